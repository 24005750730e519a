"""The checks of a submitted row: each value of its column's kind, then of a sound meaning.

A value is refused when it is not of its column's kind (not a whole number, not a number, not
true or false) or too long for it; then a row is refused for a status or history not made of
status codes, a month after the snapshot or a last report before the opening, a negative
amount, a probability outside 0-1, or an identity with no attribute at all. Each row keeps the
first reason found.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import Boolean, Column, Float, Integer, SmallInteger

STATUS_CODES = frozenset("N1234WC")
HISTORY_PATTERN = r"[-N1234WC]{24}"
BOOLEAN = {"true": True, "false": False, "1": True, "0": False, "1.0": True, "0.0": False}
DTYPES = {"int": np.int64, "float": np.float64, "bool": bool, "str": object}
IDENTITY_ATTRIBUTES = ("name", "national_id", "phone")


def column_kind(column: Column) -> tuple[str, int | None]:
    """What a table column holds: ``int``, ``float``, ``bool`` or ``str`` (with its length)."""
    kind = column.type
    if isinstance(kind, Boolean):
        return "bool", None
    if isinstance(kind, Integer):
        return "int", None
    if isinstance(kind, Float):
        return "float", None
    return "str", getattr(kind, "length", None)


class Verdicts:
    """The first reason each row of a part is refused (rows not refused stay None)."""

    def __init__(self, rows: int) -> None:
        self.field = np.full(rows, None, dtype=object)
        self.reason = np.full(rows, None, dtype=object)

    @property
    def refused(self) -> np.ndarray:
        """Which rows are refused."""
        return pd.notna(self.field) | pd.notna(self.reason)

    def refuse(self, mask: np.ndarray, field: str | None, reason: str) -> None:
        """Refuse the rows of ``mask`` not refused yet, naming the field and the reason."""
        new = np.asarray(mask, dtype=bool) & ~self.refused
        self.field[new] = field
        self.reason[new] = reason


def typed_values(frame: pd.DataFrame, table: type, verdicts: Verdicts) -> pd.DataFrame:
    """Each column as its table's type; values that are not of it are refused.

    Parameters
    ----------
    frame
        One part's rows as submitted, with their row number ``_row``.
    table
        The part's table.
    verdicts
        The part's verdicts, where the refusals go.

    Returns
    -------
    pandas.DataFrame
        The rows with numbers as floats (NaN where missing or not a number), booleans as
        booleans (NaN where neither) and text as text (None where missing).
    """
    out = frame.copy()
    for name in frame.columns:
        if name == "_row":
            continue
        kind, length = column_kind(table.__table__.c[name])
        values = frame[name]
        present = values.notna().to_numpy()
        if kind in ("int", "float"):
            number = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
            bad = present & ~np.isfinite(number)
            if kind == "int":
                bad |= present & np.isfinite(number) & (number != np.round(number))
                verdicts.refuse(bad, name, "not a whole number")
                if isinstance(table.__table__.c[name].type, SmallInteger):
                    verdicts.refuse(present & (np.abs(number) > 32767), name, "out of range")
            else:
                verdicts.refuse(bad, name, "not a number")
            out[name] = number
        elif kind == "bool":
            text = values.astype(str).str.strip().str.lower()
            truth = text.map(BOOLEAN).to_numpy()
            verdicts.refuse(present & pd.isna(truth), name, "not true or false")
            out[name] = truth
        else:
            text = values.astype("string")
            if length is not None:
                sizes = text.str.len().fillna(0).to_numpy(dtype=np.int64)
                verdicts.refuse(sizes > length, name, f"longer than {length} characters")
            out[name] = text.astype(object).where(text.notna(), None)
    return out


def check_values(part: str, frame: pd.DataFrame, snapshot: int, verdicts: Verdicts) -> None:
    """The checks of meaning: codes, histories, months not after the snapshot, amounts.

    Parameters
    ----------
    part
        ``identities``, ``tradelines``, ``public_records`` or ``scores``.
    frame
        The part's rows whose values are of their kinds (:func:`typed_values`).
    snapshot
        The month submitted.
    verdicts
        The verdicts of these rows, where the refusals go.
    """
    if part == "identities":
        anonymous = frame[list(IDENTITY_ATTRIBUTES)].isna().all(axis=1).to_numpy()
        verdicts.refuse(anonymous, None, "no identity attribute: nothing to link by")
        return
    if part == "tradelines":
        verdicts.refuse(
            ~frame["status"].isin(STATUS_CODES).to_numpy(),
            "status",
            "not a status code (N, 1-4, W, C)",
        )
        history = frame["history"].astype(str).str.fullmatch(HISTORY_PATTERN).to_numpy()
        verdicts.refuse(~history, "history", "not 24 status codes (N, 1-4, W, C or -)")
    if part in ("tradelines", "public_records"):
        first = "opened" if part == "tradelines" else "filed"
        for name in (first, "last_month"):
            later = frame[name].to_numpy(dtype=float) > snapshot
            verdicts.refuse(later, name, f"after the snapshot (month {snapshot})")
        before = frame["last_month"].to_numpy(dtype=float) < frame[first].to_numpy(dtype=float)
        verdicts.refuse(before, "last_month", f"before {first}")
        for name in ("amount", "balance"):
            if name in frame:
                verdicts.refuse(frame[name].to_numpy(dtype=float) < 0, name, "negative")
    if part == "scores":
        value = frame["pd"].to_numpy(dtype=float)
        verdicts.refuse(~((value >= 0) & (value <= 1)), "pd", "not a probability")
