"""Resident identity numbers (GB 11643-1999): check characters and validation.

An identity number is a 6-digit region code (GB/T 2260), the birth date ``YYYYMMDD``, a 3-digit
sequence (odd for men, even for women) and a check character by ISO 7064 MOD 11-2. Both sides
use this: the world to issue numbers, the bureaus to check what they receive.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from bureau.config.paths import data_dir

_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_CHECK = np.array(list("10X98765432"))
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


def validate_national_ids(ids: pd.Series | np.ndarray, check_region: bool = True) -> np.ndarray:
    """Check identity numbers: shape, region code, birth date and check character.

    Parameters
    ----------
    ids
        Identity numbers as strings (missing values are invalid).
    check_region
        Also require a known region code. A bureau that does not keep the region list
        checks the rest only.

    Returns
    -------
    numpy.ndarray
        A boolean per number, True where it is valid.
    """
    s = pd.Series(np.asarray(ids, dtype=object), dtype="string")
    shape_ok = s.str.fullmatch(r"\d{17}[\dX]").fillna(False).to_numpy(dtype=bool)
    ok = shape_ok.copy()
    if not ok.any():
        return ok
    good = s[shape_ok]
    dates = pd.to_datetime(good.str.slice(6, 14), format="%Y%m%d", errors="coerce")
    date_ok = dates.notna().to_numpy(dtype=bool)
    body = good.str.slice(0, 17).astype("int64").to_numpy()
    check_ok = check_characters(body) == good.str.slice(17, 18).to_numpy(dtype=str)
    valid = date_ok & check_ok
    if check_region:
        valid &= good.str.slice(0, 6).isin(valid_region_codes()).to_numpy(dtype=bool)
    ok[shape_ok] = valid
    return ok


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
