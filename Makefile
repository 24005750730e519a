# Two commands set everything up: `make run` and `make test`; `make test-fast` leaves out the
# tests marked slow (those that build a whole scenario).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SCENARIO ?= data/scenarios/baseline.toml
RUN_DIR ?= runs/$(basename $(notdir $(SCENARIO)))
# Most tests run in one process: two pytest workers keep both cores busy. A test file stays on
# one worker, so that a module's fixture (a sweep, a run) is built once, and the files that read
# the shared run all go to one worker (tests/conftest.py), which builds it once.
PYTEST_WORKERS ?= -n 2 --no-loadscope-reorder

.PHONY: run test test-fast lint format bench models clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,spark]'
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/bureau run $(SCENARIO) --out $(RUN_DIR) --force

test: $(VENV)/.installed-dev lint
	$(BIN)/python -m pytest $(PYTEST_WORKERS)

test-fast: $(VENV)/.installed-dev lint
	$(BIN)/python -m pytest $(PYTEST_WORKERS) -m "not slow"

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/world_generation.py
	$(BIN)/python benchmarks/ingestion.py
	$(BIN)/python benchmarks/scoring.py
	$(BIN)/python benchmarks/aggregator.py
	$(BIN)/python benchmarks/chain.py

# The reference models of the eight bureaus, trained on the baseline scenario: the same
# scenario and seed give the same files, byte for byte.
models: $(VENV)/.installed
	$(BIN)/bureau run data/scenarios/baseline.toml --out runs/reference-models --force --quiet
	rm -rf models.new && mkdir models.new
	cp -R runs/reference-models/models/. models.new/
	cp models/README.md models.new/
	rm -rf models && mv models.new models
	@echo "reference models in models/"

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
