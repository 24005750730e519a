"""Resident identity numbers (GB 11643-1999): check characters and validation.

An identity number is a 6-digit region code (GB/T 2260), the birth date ``YYYYMMDD``, a 3-digit
sequence (odd for men, even for women) and a check character by ISO 7064 MOD 11-2. Both sides
use this: the world to issue numbers, the bureaus to check what they receive.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from bureau.config.paths import data_dir
from bureau.errors import BureauError

_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_CHECK = np.array(list("10X98765432"))
_CHECK_CODES = np.frombuffer(b"10X98765432", dtype=np.uint8).astype(np.int64)
_POW10 = 10 ** np.arange(16, -1, -1, dtype=np.int64)


@lru_cache(maxsize=1)
def valid_region_codes() -> frozenset[str]:
    """Return the region codes numbers may start with.

    Returns
    -------
    frozenset of str
        The six-digit codes of ``data/reference/regions.csv``.
    """
    regions = pd.read_csv(data_dir() / "reference" / "regions.csv", dtype={"region_code": str})
    return frozenset(regions["region_code"])


def check_characters(body: np.ndarray) -> np.ndarray:
    """Compute ISO 7064 MOD 11-2 check characters.

    Parameters
    ----------
    body
        The first 17 digits of each identity number, as int64 numbers.

    Returns
    -------
    numpy.ndarray
        One character per number, ``'0'``-``'9'`` or ``'X'``.
    """
    digits = (np.asarray(body, dtype=np.int64)[:, None] // _POW10) % 10
    return _CHECK[(digits @ _WEIGHTS) % 11]


def format_national_ids(body: np.ndarray) -> np.ndarray:
    """Return 18-character identity numbers from their 17-digit bodies.

    Parameters
    ----------
    body
        int64 bodies: ``region * 10**11 + yyyymmdd * 10**3 + sequence``.

    Returns
    -------
    numpy.ndarray
        Strings of 17 digits and the check character.
    """
    return np.char.add(np.asarray(body).astype("U17"), check_characters(body))


def _digit_matrix(ids: pa.Array) -> np.ndarray:
    """The bytes of equal-length ASCII strings as an ``(n, 18)`` uint8 matrix, without copies."""
    offsets = np.frombuffer(ids.buffers()[1], dtype=np.int32)[
        ids.offset : ids.offset + len(ids) + 1
    ]
    data = np.frombuffer(ids.buffers()[2], dtype=np.uint8)
    return data[offsets[0] : offsets[-1]].reshape(len(ids), 18)


def _as_text(ids: pd.Series | np.ndarray | pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    if isinstance(ids, pa.Array):
        return ids.cast(pa.string())
    return pa.array(np.asarray(ids, dtype=object), type=pa.string(), from_pandas=True)


#: Why a number is not valid, in the order the checks are made (the first failed is named).
PROBLEMS = (
    "not 18 characters",
    "not 17 digits and a check digit or X",
    "impossible birth date (characters 7 to 14)",
    "wrong check character (a character mistyped?)",
    "unknown region code (the first 6 digits)",
)


def _problem_codes(text: pa.Array, check_region: bool) -> np.ndarray:
    """Per number, the index into :data:`PROBLEMS` of its first problem, or -1 when valid."""
    length = pc.fill_null(pc.utf8_length(text), 0).to_numpy(zero_copy_only=False)
    shaped = np.asarray(
        pc.fill_null(pc.match_substring_regex(text, r"^\d{17}[\dX]$"), False).to_numpy(
            zero_copy_only=False
        ),
        dtype=bool,
    )
    code = np.where(length != 18, 0, np.where(shaped, -1, 1))
    if not shaped.any():
        return code
    # Every value left is 18 ASCII characters: work on the digits as a matrix.
    digits = _digit_matrix(pc.filter(text, pa.array(shaped))).astype(np.int64) - ord("0")
    check = _CHECK_CODES[(digits[:, :17] @ _WEIGHTS) % 11] == digits[:, 17] + ord("0")
    year = digits[:, 6:10] @ np.array([1000, 100, 10, 1])
    month = digits[:, 10:12] @ np.array([10, 1])
    day = digits[:, 12:14] @ np.array([10, 1])
    month_ok = (month >= 1) & (month <= 12)
    first = ((year - 1970) * 12 + np.clip(month, 1, 12) - 1).astype("datetime64[M]")
    days_in_month = ((first + 1).astype("datetime64[D]") - first.astype("datetime64[D]")).astype(
        np.int64
    )
    date_ok = month_ok & (day >= 1) & (day <= days_in_month)
    region_ok = np.ones(len(digits), dtype=bool)
    if check_region:
        region = digits[:, :6] @ (10 ** np.arange(5, -1, -1))
        region_ok = np.isin(region, _region_numbers())
    code[shaped] = np.where(~date_ok, 2, np.where(~check, 3, np.where(~region_ok, 4, -1)))
    return code


def validate_national_ids(
    ids: pd.Series | np.ndarray | pa.Array | pa.ChunkedArray, check_region: bool = True
) -> np.ndarray:
    """Check identity numbers: shape, region code, birth date and check character.

    Parameters
    ----------
    ids
        Identity numbers as strings, or an Arrow string array (missing values are invalid).
    check_region
        Also require a known region code. A bureau that does not keep the region list
        checks the rest only.

    Returns
    -------
    numpy.ndarray
        A boolean per number, True where it is valid.
    """
    return _problem_codes(_as_text(ids), check_region) < 0


def national_id_problems(
    ids: pd.Series | np.ndarray | pa.Array | pa.ChunkedArray, check_region: bool = True
) -> np.ndarray:
    """Say what is wrong with each identity number (the first problem found).

    Parameters
    ----------
    ids
        Identity numbers as strings, or an Arrow string array (missing values are not 18
        characters).
    check_region
        Also require a known region code.

    Returns
    -------
    numpy.ndarray
        Per number, one of :data:`PROBLEMS`, or None where it is valid.
    """
    names = np.array([*PROBLEMS, None], dtype=object)
    return names[_problem_codes(_as_text(ids), check_region)]


def check_national_id(value: str, field: str = "national_id") -> str:
    """An identity number given by a user, normalised, or an error saying what is wrong.

    Parameters
    ----------
    value
        The number as typed (spaces around it and a lower-case ``x`` are forgiven).
    field
        The argument it came in, named in the error.

    Returns
    -------
    str
        The number, stripped and upper-case.

    Raises
    ------
    bureau.errors.BureauError
        If it is not a valid GB 11643-1999 identity number.
    """
    number = value.strip().upper()
    problem = national_id_problems(np.array([number], dtype=object))[0]
    if problem is not None:
        raise BureauError(f"{value!r} is not a valid identity number: {problem}", field=field)
    return number


@lru_cache(maxsize=1)
def _region_numbers() -> np.ndarray:
    return np.array(sorted(int(code) for code in valid_region_codes()), dtype=np.int64)


def gender_of(ids: pd.Series | np.ndarray) -> np.ndarray:
    """Return ``'M'`` or ``'F'`` from the parity of each number's sequence.

    Parameters
    ----------
    ids
        Valid identity numbers.

    Returns
    -------
    numpy.ndarray
        ``'M'`` where the 17th digit is odd, else ``'F'``.
    """
    seventeenth = pd.Series(np.asarray(ids, dtype=object)).str.slice(16, 17).astype(int)
    return np.where(seventeenth.to_numpy() % 2 == 1, "M", "F")
