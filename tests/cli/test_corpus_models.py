"""A standing corpus of bad model directories, each given to ``bureau score --model``.

Every case must end with exit status 2 and one line naming the file at fault (and the line or
field where there is one), leave the model directory and the feature table as they were, and
write no output, reject file or temporary file. A model file that LightGBM's own parser would
choke on is scored in a child process: an abort there must fail the test, not end pytest.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from bureau.cli.main import app
from tests.cli.helpers import MODELS, feature_frame, files_in
from tests.tampering import resize_trees, seal

runner = CliRunner()
Edit = Callable[[Path], None]


def _text(name: str, change: Callable[[str], str], forge: bool = True) -> Edit:
    def edit(directory: Path) -> None:
        path = directory / name
        path.write_text(change(path.read_text()))
        if forge:
            seal(directory)

    return edit


def _bytes(name: str, data: bytes) -> Edit:
    def edit(directory: Path) -> None:
        (directory / name).write_bytes(data)
        seal(directory)

    return edit


def _card(change: Callable[[dict], None], forge: bool = False) -> Edit:
    def edit(directory: Path) -> None:
        path = directory / "model_card.json"
        card = json.loads(path.read_text())
        change(card)
        path.write_text(json.dumps(card, indent=1, sort_keys=True) + "\n")
        if forge:
            seal(directory)

    return edit


def _scorecard(change: Callable[[dict], None]) -> Edit:
    def edit(directory: Path) -> None:
        path = directory / "scorecard.json"
        data = json.loads(path.read_text())
        change(data)
        path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
        seal(directory)

    return edit


def _unlink(name: str) -> Edit:
    return lambda directory: (directory / name).unlink()


BINARY = np.random.default_rng(7).integers(0, 256, 4096, dtype=np.uint8).tobytes()

# (case, bureau, edit, words the error line must hold, in a child process)
CASES: list[tuple[str, str, Edit, list[str], bool]] = [
    (
        "truncated",
        "qianhai",
        _text("model.txt", lambda t: t[: len(t) // 3]),
        ["model.txt: line", "truncated"],
        True,
    ),
    (
        "truncated at a line end",
        "qianhai",
        _text("model.txt", lambda t: t[: t.index("Tree=40")]),
        ["model.txt: line", "truncated"],
        True,
    ),
    ("empty", "qianhai", _bytes("model.txt", b""), ["model.txt", "empty"], True),
    ("binary", "qianhai", _bytes("model.txt", BINARY), ["model.txt: line", "not UTF-8"], True),
    (
        "leaves edited",
        "qianhai",
        _text("model.txt", lambda t: t.replace("Tree=0\nnum_leaves=2", "Tree=0\nnum_leaves=5", 1)),
        ["model.txt: line", "num_leaves=5"],
        True,
    ),
    (
        "child index out of range",
        "qianhai",
        _text(
            "model.txt", lambda t: resize_trees(t.replace("right_child=-2\n", "right_child=9\n", 1))
        ),
        ["model.txt: line", "right_child"],
        True,
    ),
    (
        "children form a cycle",
        "sesame",
        _text("model.txt", lambda t: resize_trees(_cycle(t))),
        ["model.txt: line", "left_child"],
        True,
    ),
    (
        "NaN leaf",
        "qianhai",
        _text(
            "model.txt",
            lambda t: resize_trees(_first_leaf(t, "nan")),
        ),
        ["model.txt: line", "leaf_value", "finite"],
        True,
    ),
    (
        "split on a feature that is not there",
        "qianhai",
        _text(
            "model.txt",
            lambda t: resize_trees(t.replace("split_feature=8\n", "split_feature=35\n", 1)),
        ),
        ["model.txt: line", "split_feature"],
        True,
    ),
    (
        "tree size not updated",
        "qianhai",
        _text("model.txt", lambda t: _first_leaf(t, "-3.7")),
        ["model.txt: line 13: tree_sizes"],
        True,
    ),
    (
        "wrong feature count",
        "qianhai",
        _text("model.txt", lambda t: t.replace("max_feature_idx=34", "max_feature_idx=33", 1)),
        ["model.txt: line", "feature_names"],
        True,
    ),
    (
        "features not the card's",
        "qianhai",
        _card(lambda c: c.update(features=[*c["features"][1:], c["features"][0]]), forge=True),
        ["model.txt: line 8: feature_names"],
        True,
    ),
    (
        "categorical split",
        "qianhai",
        _text("model.txt", lambda t: t.replace("decision_type=2\n", "decision_type=3\n", 1)),
        ["model.txt: line", "categorical"],
        True,
    ),
    (
        "multiclass header",
        "qianhai",
        _text("model.txt", lambda t: t.replace("num_class=1", "num_class=3", 1)),
        ["model.txt: line 3: num_class"],
        True,
    ),
    (
        "end marker missing",
        "qianhai",
        _text("model.txt", lambda t: t.replace("end of trees\n", "", 1)),
        ["model.txt: line", "end of trees"],
        True,
    ),
    (
        "parameters cut off",
        "qianhai",
        _text("model.txt", lambda t: t[: t.index("end of parameters")]),
        ["model.txt: line", "truncated"],
        True,
    ),
    (
        "model edited, hash not",
        "qianhai",
        _text("model.txt", lambda t: t.replace("shrinkage=1", "shrinkage=2", 1), forge=False),
        ["model.txt", "does not match the SHA-256"],
        False,
    ),
    (
        "model file missing",
        "qianhai",
        _unlink("model.txt"),
        ["model.txt", "model file missing"],
        False,
    ),
    (
        "card field edited",
        "qianhai",
        _card(lambda c: c["score_scale"].update(base_score=700.0)),
        ["model_card.json", "does not match its card_sha256"],
        False,
    ),
    (
        "card feature list edited",
        "chengxin",
        _card(lambda c: c["features"].pop()),
        ["model_card.json", "does not match its card_sha256"],
        False,
    ),
    (
        "card hash edited",
        "qianhai",
        _card(lambda c: c.update(card_sha256="0" * 64)),
        ["model_card.json", "does not match its card_sha256"],
        False,
    ),
    (
        "card from before cards were sealed",
        "qianhai",
        _card(lambda c: c.pop("card_sha256")),
        ["model_card.json", "no card_sha256", "retrain"],
        False,
    ),
    ("card missing", "qianhai", _unlink("model_card.json"), ["not a model directory"], False),
    (
        "card not JSON",
        "qianhai",
        lambda d: (d / "model_card.json").write_text('{"model_family": "lightgbm",\n'),
        ["model_card.json: line 2: not valid JSON"],
        False,
    ),
    (
        "card is binary",
        "qianhai",
        lambda d: (d / "model_card.json").write_bytes(BINARY),
        ["model_card.json: line", "not UTF-8"],
        False,
    ),
    (
        "unknown family",
        "qianhai",
        _card(lambda c: c.update(model_family="xgboost"), forge=True),
        ["model_card.json: model_family", "xgboost"],
        False,
    ),
    (
        "scale upside down",
        "qianhai",
        _card(lambda c: c["score_scale"].update(score_min=900), forge=True),
        ["model_card.json: score_scale.score_min"],
        False,
    ),
    (
        "scorecard NaN value",
        "chengxin",
        _scorecard(lambda s: s["features"][1]["values"].__setitem__(0, float("nan"))),
        ["scorecard.json: features[1].values", "finite"],
        False,
    ),
    (
        "scorecard bins out of order",
        "chengxin",
        _scorecard(lambda s: s["features"][2]["splits"].reverse()),
        ["scorecard.json: features[2].splits"],
        False,
    ),
    (
        "scorecard key missing",
        "chengxin",
        _scorecard(lambda s: s.pop("intercept")),
        ["scorecard.json: scorecard: missing intercept"],
        False,
    ),
    (
        "scorecard not JSON",
        "chengxin",
        _bytes("scorecard.json", b'{"kind": "woe_scorecard"'),
        ["scorecard.json: line 1: not valid JSON"],
        False,
    ),
]


def _first_leaf(text: str, value: str) -> str:
    """The model text with the first leaf of its first tree set to ``value``."""
    return re.sub(r"leaf_value=[^ \n]+", f"leaf_value={value}", text, count=1)


def _cycle(text: str) -> str:
    """Hang the inner nodes of the first three-split tree on each other, off the root.

    Every index stays in range and every node but the root and every leaf is named once:
    only a walk from the root finds that nodes 1 and 2 cannot be reached.
    """
    start = text.index("num_leaves=4\n")
    end = text.index("\n\n", start)
    block = text[start:end]
    lines = [
        "left_child=-1 2 1" if line.startswith("left_child=") else line
        for line in block.split("\n")
    ]
    lines = ["right_child=-2 -3 -4" if line.startswith("right_child=") else line for line in lines]
    return text[:start] + "\n".join(lines) + text[end:]


@pytest.fixture(scope="module")
def features(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("features") / "features.csv"
    feature_frame().to_csv(path, index=False)
    return path


CHILD = """
import json, sys
from typer.testing import CliRunner
from bureau.cli.main import app
runner = CliRunner()
for args in json.loads(sys.argv[1]):
    result = runner.invoke(app, args)
    print(json.dumps({"code": result.exit_code, "stderr": result.stderr}), flush=True)
"""
Outcome = tuple[Path, Path, dict[str, bytes], int | None, str]


def _prepare(root: Path, case: str, bureau: str, edit: Edit) -> tuple[Path, Path]:
    model = root / case.replace(" ", "_").replace("'", "") / "model"
    shutil.copytree(MODELS / bureau, model)
    edit(model)
    out = model.parent / "out"
    out.mkdir()
    return model, out


def _args(model: Path, features: Path, out: Path) -> list[str]:
    output = str(out / "scores.csv")
    return ["score", "--model", str(model), "--features", str(features), "-o", output, "-q"]


@pytest.fixture(scope="module")
def in_a_child(features: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    """Score every model LightGBM could choke on in one child process, which may die.

    Returns case -> (model, out, the model's files before, exit status or None if the child
    died before this case, stderr).
    """
    root = tmp_path_factory.mktemp("child")
    prepared = {c[0]: _prepare(root, *c[:3]) for c in CASES if c[4]}
    before = {case: files_in(model) for case, (model, _) in prepared.items()}
    commands = [_args(model, features, out) for model, out in prepared.values()]
    done = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(commands)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    results = [json.loads(line) for line in done.stdout.splitlines()]
    outcomes: dict[str, Outcome] = {}
    for i, (case, (model, out)) in enumerate(prepared.items()):
        if i < len(results):
            code, stderr = results[i]["code"], results[i]["stderr"]
        else:
            code, stderr = None, f"the child died ({done.returncode}): {done.stderr[-2000:]}"
        outcomes[case] = (model, out, before[case], code, stderr)
    return outcomes


def test_the_reference_models_score_the_corpus_feature_table(
    features: Path, tmp_path: Path
) -> None:
    for bureau in ("qianhai", "chengxin"):
        out = tmp_path / f"{bureau}.csv"
        result = runner.invoke(
            app,
            [
                "score",
                "--model",
                str(MODELS / bureau),
                "--features",
                str(features),
                "-o",
                str(out),
                "-q",
            ],
        )
        assert result.exit_code == 0, result.output
        assert out.is_file() and not (tmp_path / f"{bureau}.csv.rejects.csv").exists()


@pytest.mark.parametrize(
    ("case", "bureau", "edit", "words", "child"), CASES, ids=[c[0] for c in CASES]
)
def test_a_bad_model_is_one_line_and_changes_nothing(
    features: Path,
    in_a_child: dict[str, Outcome],
    tmp_path: Path,
    case: str,
    bureau: str,
    edit: Edit,
    words: list[str],
    child: bool,
) -> None:
    table = features.read_bytes()
    if child:
        model, out, before, code, stderr = in_a_child[case]
    else:
        model, out = _prepare(tmp_path, case, bureau, edit)
        before = files_in(model)
        result = runner.invoke(app, _args(model, features, out))
        code, stderr = result.exit_code, result.stderr
    lines = stderr.strip().splitlines()
    assert code == 2 and len(lines) == 1, stderr[-3000:]
    assert lines[0].startswith("error: ") and all(w in lines[0] for w in words), lines[0]
    assert "Traceback" not in stderr
    assert files_in(model) == before and features.read_bytes() == table
    assert not list(out.iterdir())
