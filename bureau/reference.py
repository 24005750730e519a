"""Reference tables of the world: administrative regions, surnames and given-name characters."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from bureau.config.paths import data_dir


@dataclass(frozen=True)
class Reference:
    """The reference tables, as arrays ready for sampling.

    Attributes
    ----------
    regions
        One row per region code: ``region_code``, ``province_code``, ``province``, ``city``,
        ``tier`` (1-4) and ``weight`` (population, millions).
    surnames, surname_p
        Surnames and their sampling probabilities.
    male_chars, female_chars
        Characters used in given names, by gender.
    """

    regions: pd.DataFrame
    surnames: np.ndarray
    surname_p: np.ndarray
    male_chars: np.ndarray
    female_chars: np.ndarray

    @property
    def provinces(self) -> list[str]:
        """Province names in code order (the categories of ``persons.province``)."""
        return list(dict.fromkeys(self.regions["province"]))


@lru_cache(maxsize=1)
def reference() -> Reference:
    """Load the reference tables from ``data/reference`` (once per process).

    Returns
    -------
    Reference
        The tables.
    """
    root = data_dir() / "reference"
    regions = pd.read_csv(
        root / "regions.csv",
        dtype={"region_code": str, "province_code": str, "province": str, "city": str},
    )
    surnames = pd.read_csv(root / "surnames.csv")
    chars = pd.read_csv(root / "given_name_characters.csv")
    share = surnames["share_percent"].to_numpy(dtype=float)
    return Reference(
        regions=regions,
        surnames=surnames["surname"].to_numpy(dtype=str),
        surname_p=share / share.sum(),
        male_chars=chars.loc[chars["gender"] == "M", "character"].to_numpy(dtype=str),
        female_chars=chars.loc[chars["gender"] == "F", "character"].to_numpy(dtype=str),
    )
