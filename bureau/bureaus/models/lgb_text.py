"""LightGBM's text model format, checked in Python before LightGBM reads a byte of it.

LightGBM's own parser trusts its input: a tree whose arrays disagree in length, a child index
out of range or a tree size that does not match the tree aborts the process inside C++, or
reads past the end of its buffer, instead of raising. So every model file is read here first,
line by line, against the layout LightGBM writes (``GBDT::SaveModelToString`` and
``Tree::ToString`` in LightGBM's sources), and refused with the line and key at fault unless
it is a model of the kind the bureaus train: one binary classifier, numerical splits only, no
linear leaves, every number finite. The layout::

    tree
    version=v4                        header: one key=value per line
    ...
    tree_sizes=359 367 ...            the bytes of each tree block, in order
                                      (empty line)
    Tree=0                            a tree block: 16 key=value lines, two empty lines
    num_leaves=2
    ...
    end of trees
                                      (empty line)
    feature_importances:              name=count lines
                                      (empty line)
    parameters:                       [name: value] lines, an empty line
    end of parameters
                                      (empty line)
    pandas_categorical:null           added by LightGBM's Python package
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from bureau.errors import ModelError

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_NUMBERS = re.compile(rf"(?:{_NUMBER}(?: {_NUMBER})*)?")
# LightGBM writes a split that sends every value one way with an infinite threshold.
_THRESHOLD = rf"(?:{_NUMBER}|-?inf)"
_THRESHOLDS = re.compile(rf"(?:{_THRESHOLD}(?: {_THRESHOLD})*)?")
_INTEGERS = re.compile(r"(?:-?\d{1,10}(?: -?\d{1,10})*)?")
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")
_FEATURE_INFO = re.compile(rf"none|\[{_NUMBER}:{_NUMBER}\]")
# LightGBM splits a parameter line at its colons and pastes the value into JSON unquoted.
_PARAMETER = re.compile(r"\[([a-z][a-z0-9_]*): ([A-Za-z0-9_.,+\-\[\] /]*)\]")
_IMPORTANCE = re.compile(r"(.+)=(\d{1,12})")

HEADER_KEYS = (
    "version",
    "num_class",
    "num_tree_per_iteration",
    "label_index",
    "max_feature_idx",
    "objective",
    "feature_names",
    "monotone_constraints",
    "feature_infos",
    "tree_sizes",
)
OPTIONAL_HEADER_KEYS = frozenset({"monotone_constraints"})
TREE_KEYS = (
    "num_leaves",
    "num_cat",
    "split_feature",
    "split_gain",
    "threshold",
    "decision_type",
    "left_child",
    "right_child",
    "leaf_value",
    "leaf_weight",
    "leaf_count",
    "internal_value",
    "internal_weight",
    "internal_count",
    "is_linear",
    "shrinkage",
)
#: LightGBM's limit on leaves per tree.
MAX_LEAVES = 131_072
_CATEGORICAL_BIT = 1
_MISSING_TYPES = (0, 1, 2)  # none, zero, NaN


class _Lines:
    """The file's lines with their numbers, read front to back."""

    def __init__(self, text: str, path: Path | None) -> None:
        self.path = path
        self.lines = text.split("\n")
        self.at = 0
        #: What the expected length of the arrays being read follows from, for messages.
        self.basis = "the header"

    def error(self, message: str, line: int | None = None, field: str | None = None) -> ModelError:
        return ModelError(message, path=self.path, row=line or self.at, field=field)

    def next(self, what: str) -> str:
        """The next line (the file's last line, after the final newline, is never one)."""
        if self.at >= len(self.lines) - 1:
            raise self.error(f"the file ends where {what} should be: truncated?", self.at)
        self.at += 1
        return self.lines[self.at - 1]

    def expect(self, wanted: str) -> None:
        line = self.next(repr(wanted))
        if line != wanted:
            shown = line if len(line) <= 40 else line[:40] + "..."
            raise self.error(f"expected {wanted!r}, found {shown!r}")

    def key_values(self, what: str) -> dict[str, tuple[str, int]]:
        """``key=value`` lines up to an empty line: key -> (value, line number)."""
        out: dict[str, tuple[str, int]] = {}
        while True:
            line = self.next(f"the rest of {what}")
            if line == "":
                return out
            key, sign, value = line.partition("=")
            if not sign or not key:
                raise self.error(f"not a key=value line in {what}")
            if key in out:
                raise self.error(f"given twice in {what}", field=key)
            out[key] = (value, self.at)


def _numbers(
    lines: _Lines,
    value: str,
    line: int,
    key: str,
    count: int | tuple[int, ...],
    infinite: bool = False,
) -> np.ndarray:
    """A line's space-separated numbers, exactly ``count``, finite unless ``infinite``."""
    if not (_THRESHOLDS if infinite else _NUMBERS).fullmatch(value):
        raise lines.error("not a list of finite numbers", line, key)
    values = np.array(value.split(" ") if value else [], dtype=np.float64)
    _count(lines, values, line, key, count)
    if not (np.isfinite(values) | (infinite & np.isinf(values))).all():
        raise lines.error("a value is not a finite number", line, key)
    return values


def _integers(
    lines: _Lines,
    value: str,
    line: int,
    key: str,
    count: int | tuple[int, ...],
    low: int,
    high: int,
) -> np.ndarray:
    """A line's space-separated integers, exactly ``count`` of them, each in [low, high]."""
    if not _INTEGERS.fullmatch(value):
        raise lines.error("not a list of whole numbers", line, key)
    values = np.array(value.split(" ") if value else [], dtype=np.int64)
    _count(lines, values, line, key, count)
    if ((values < low) | (values > high)).any():
        raise lines.error(f"a value is outside {low} to {high}", line, key)
    return values


def _count(
    lines: _Lines, values: np.ndarray, line: int, key: str, count: int | tuple[int, ...]
) -> None:
    allowed = (count,) if isinstance(count, int) else count
    if len(values) not in allowed:
        wanted = " or ".join(str(c) for c in allowed)
        raise lines.error(f"{len(values)} values where {lines.basis} needs {wanted}", line, key)


def _one_integer(lines: _Lines, entry: tuple[str, int], key: str, low: int, high: int) -> int:
    return int(_integers(lines, entry[0], entry[1], key, 1, low, high)[0])


def _header(lines: _Lines, features: list[str] | None) -> tuple[list[str], np.ndarray]:
    """Check the header; return the feature names and each tree's size in bytes."""
    lines.expect("tree")
    header = lines.key_values("the header")
    start = lines.at
    for key in header:
        if key not in HEADER_KEYS:
            raise lines.error("not a key of a LightGBM model header", header[key][1], key)
    for key in HEADER_KEYS:
        if key not in header and key not in OPTIONAL_HEADER_KEYS:
            raise lines.error("missing from the header", start, key)
    fixed = {"version": "v4", "num_class": "1", "num_tree_per_iteration": "1", "label_index": "0"}
    for key, wanted in fixed.items():
        if header[key][0] != wanted:
            raise lines.error(
                f"{header[key][0]!r} where {wanted!r} is expected", header[key][1], key
            )
    objective, line = header["objective"]
    sigmoid = re.fullmatch(rf"binary sigmoid:({_NUMBER})", objective)
    if not sigmoid or not 0 < float(sigmoid.group(1)) < np.inf:
        raise lines.error("not a binary objective with a positive sigmoid", line, "objective")
    width = _one_integer(lines, header["max_feature_idx"], "max_feature_idx", 0, 1_000_000) + 1
    names, line = header["feature_names"]
    found = names.split(" ")
    if len(found) != width or not all(found):
        raise lines.error(
            f"{len(found)} names where max_feature_idx gives {width} features",
            line,
            "feature_names",
        )
    if features is not None and found != list(features):
        raise lines.error(
            f"the model's {len(found)} features are not the card's {len(features)} features"
            " (names or order differ)",
            line,
            "feature_names",
        )
    lines.basis = f"max_feature_idx={width - 1}"
    if "monotone_constraints" in header:
        value, line = header["monotone_constraints"]
        _integers(lines, value, line, "monotone_constraints", width, -1, 1)
    infos, line = header["feature_infos"]
    parts = infos.split(" ")
    if len(parts) != width or not all(_FEATURE_INFO.fullmatch(p) for p in parts):
        raise lines.error(f"not {width} ranges ([low:high] or none)", line, "feature_infos")
    value, line = header["tree_sizes"]
    if not value:
        raise lines.error("the model has no trees", line, "tree_sizes")
    sizes = _integers(lines, value, line, "tree_sizes", value.count(" ") + 1, 1, 1 << 40)
    return found, sizes


def _tree(lines: _Lines, index: int, width: int, size: int) -> None:
    """Check one tree block: its size, its keys, and that its arrays make one binary tree."""
    first = lines.at + 1
    lines.expect(f"Tree={index}")
    block = lines.key_values(f"tree {index}")
    lines.expect("")  # LightGBM ends a tree with two empty lines
    for key in block:
        if key not in TREE_KEYS:
            raise lines.error(f"not a key of a tree (tree {index})", block[key][1], key)
    for key in TREE_KEYS:
        if key not in block:
            raise lines.error(f"missing from tree {index}", first, key)
    leaves = _one_integer(lines, block["num_leaves"], "num_leaves", 1, MAX_LEAVES)
    if _one_integer(lines, block["num_cat"], "num_cat", 0, MAX_LEAVES):
        raise lines.error("categorical splits are not supported", block["num_cat"][1], "num_cat")
    if _one_integer(lines, block["is_linear"], "is_linear", 0, 1):
        raise lines.error("linear trees are not supported", block["is_linear"][1], "is_linear")
    nodes = leaves - 1
    lines.basis = f"num_leaves={leaves}"
    # A one-leaf tree (no split) carries its leaf count but, as LightGBM writes it, no weight.
    leaf_arrays = (leaves,) if nodes else (0, 1)

    def floats(key: str, count: int | tuple[int, ...], infinite: bool = False) -> np.ndarray:
        return _numbers(lines, block[key][0], block[key][1], key, count, infinite)

    def ints(key: str, count: int | tuple[int, ...], low: int, high: int) -> np.ndarray:
        return _integers(lines, block[key][0], block[key][1], key, count, low, high)

    floats("shrinkage", 1)
    floats("leaf_value", leaves)
    floats("leaf_weight", leaf_arrays)
    ints("leaf_count", leaf_arrays, 0, 2**31 - 1)
    for key in ("split_gain", "internal_value", "internal_weight"):
        floats(key, nodes)
    floats("threshold", nodes, infinite=True)
    ints("internal_count", nodes, 0, 2**31 - 1)
    ints("split_feature", nodes, 0, width - 1)
    decision = ints("decision_type", nodes, 0, 15)
    if (decision & _CATEGORICAL_BIT).any():
        raise lines.error(
            "categorical splits are not supported", block["decision_type"][1], "decision_type"
        )
    if not np.isin((decision >> 2) & 3, _MISSING_TYPES).all():
        raise lines.error(
            "an unknown missing-value type", block["decision_type"][1], "decision_type"
        )
    # A child >= 0 is an internal node (never the root, 0), a child < 0 the leaf ~child.
    left = ints("left_child", nodes, -leaves, max(nodes - 1, 0))
    right = ints("right_child", nodes, -leaves, max(nodes - 1, 0))
    children = np.concatenate([left, right])
    internal = children[children >= 0]
    leaf = ~children[children < 0]
    once = (
        np.array_equal(np.bincount(internal, minlength=nodes)[1:], np.ones(max(nodes - 1, 0)))
        and np.array_equal(np.bincount(leaf, minlength=leaves), np.ones(leaves))
        and (internal.size == 0 or internal.min() > 0)
    )
    if nodes and not once:
        raise lines.error(
            f"tree {index}'s children do not name every node but the root and every leaf once",
            block["left_child"][1],
            "left_child",
        )
    # With one parent per node a cycle could still hang apart from the root: walk from it.
    seen, stack = 0, [0] if nodes else []
    while stack:
        node = stack.pop()
        seen += 1
        stack.extend(int(c) for c in (left[node], right[node]) if c >= 0)
    if seen != nodes:
        raise lines.error(
            f"tree {index} has nodes that cannot be reached from its root",
            block["left_child"][1],
            "left_child",
        )
    # LightGBM finds each tree by these sizes: a wrong one sends it into the wrong bytes.
    used = sum(len(s.encode("utf-8")) + 1 for s in lines.lines[first - 1 : lines.at])
    if used != size:
        raise lines.error(
            f"tree {index} takes {used} bytes where tree_sizes says {size}: edited or truncated",
            first,
            "tree_sizes",
        )


def _trailer(lines: _Lines, names: set[str]) -> None:
    """Check what follows the trees, up to the end of the file."""
    lines.expect("end of trees")
    lines.expect("")
    lines.expect("feature_importances:")
    while (line := lines.next("the feature importances")) != "":
        match = _IMPORTANCE.fullmatch(line)
        if not match or match.group(1) not in names:
            raise lines.error(
                "not a feature's importance (name=count)", field="feature_importances"
            )
    lines.expect("parameters:")
    seen: set[str] = set()
    while (line := lines.next("the parameters")) != "":
        if not _PARAMETER.fullmatch(line):
            raise lines.error("not a parameter line ([name: value])", field="parameters")
        name = line[1 : line.index(":")]
        if name in seen:
            raise lines.error("a parameter given twice", field=name)
        seen.add(name)
    lines.expect("end of parameters")
    lines.expect("")
    lines.expect("pandas_categorical:null")
    if lines.at != len(lines.lines) - 1:
        raise lines.error("text after the end of the model", lines.at + 1)


def check_model_text(
    text: str, *, features: list[str] | None = None, path: Path | None = None
) -> None:
    """Check that a text is a LightGBM model of the bureaus' kind, safe to hand to LightGBM.

    Parameters
    ----------
    text
        The model file's text.
    features
        The features the model must have, in order (its card's), or None not to check them.
    path
        The file, to name in errors.

    Raises
    ------
    bureau.errors.ModelError
        Naming the line and key at fault: the text is empty, binary, truncated or edited, or a
        model of another kind (multiclass, categorical splits, linear trees).
    """
    if not text.strip():
        raise ModelError("empty file: not a LightGBM model", path=path)
    bad = _CONTROL.search(text)
    if bad:
        raise ModelError(
            f"a control character (0x{ord(bad.group()):02x}): not a LightGBM text model",
            path=path,
            row=text.count("\n", 0, bad.start()) + 1,
        )
    if not text.endswith("\n"):
        raise ModelError(
            "the last line does not end: truncated?", path=path, row=text.count("\n") + 1
        )
    lines = _Lines(text, path)
    names, sizes = _header(lines, features)
    for index, size in enumerate(sizes):
        _tree(lines, index, len(names), int(size))
    _trailer(lines, set(names))
