"""Hypothesis strategies for canonical typed records of every record type."""

from __future__ import annotations

import pandas as pd
from hypothesis import strategies as st

from bureau.formats.schema import RECORDS, STATUS_CODES, FieldSpec, pandas_dtype

# Printable ASCII and the common CJK block (two bytes each in GB18030).
CHARACTERS = st.one_of(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E),
    st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5),
)


def _text(width: int) -> st.SearchStrategy[str]:
    # Fixed-width padding is trailing spaces, so a value cannot end with one; the empty
    # string is a missing value in CSV and fixed width.
    return st.text(CHARACTERS, min_size=1, max_size=width).map(lambda s: s.rstrip(" ")).filter(bool)


def _month() -> st.SearchStrategy[str]:
    return st.integers(0, 7 * 12 - 1).map(lambda i: f"{2015 + i // 12}-{i % 12 + 1:02d}")


def value(spec: FieldSpec) -> st.SearchStrategy[object]:
    """Values of one field, None included where the field is optional."""
    if spec.name == "status":
        base: st.SearchStrategy[object] = st.sampled_from(STATUS_CODES)
    elif spec.kind == "text":
        base = _text(spec.width)
    elif spec.kind == "month":
        base = _month()
    elif spec.kind == "fen":
        base = st.integers(0, 10**12)
    elif spec.kind == "int":
        base = st.integers(-(10 ** (spec.width - 1) - 1), 10**spec.width - 1)
    else:
        base = st.booleans()
    return base if spec.required else st.none() | base


@st.composite
def frames(draw: st.DrawFn, record_type: str, min_size: int = 0, max_size: int = 8) -> pd.DataFrame:
    """A frame of canonical typed records, as furnishing hands them to a writer."""
    specs = RECORDS[record_type]
    row = st.fixed_dictionaries({spec.name: value(spec) for spec in specs})
    rows = draw(st.lists(row, min_size=min_size, max_size=max_size))
    return pd.DataFrame(
        {
            spec.name: pd.Series([r[spec.name] for r in rows], dtype=pandas_dtype(spec.kind))
            for spec in specs
        }
    )
