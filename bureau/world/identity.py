"""Identities: resident identity numbers (GB 11643-1999), names and mobile numbers.

The number format itself (check characters, validation) is in :mod:`bureau.formats.national_id`.

Identity numbers are built from a region code, the birth date and a 3-digit sequence whose
parity gives the gender (odd for men), closed by an ISO 7064 MOD 11-2 check character.
Numbers and phones are unique across the whole world: each chunk makes its own unique, and
:class:`UniqueRegistry` settles the rare clash between chunks, chunk by chunk in order, so the
result does not depend on how many workers ran.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import numpy as np

# Carrier prefixes in use in the 2010s (China Mobile, China Unicom, China Telecom).
PHONE_PREFIXES = np.array(
    [
        *(130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 147, 150, 151, 152, 153, 155),
        *(156, 157, 158, 159, 166, 176, 177, 178, 180, 181, 182, 183, 184, 185, 186, 187),
        *(188, 189, 198, 199),
    ],
    dtype=np.int64,
)


def national_id_body(
    region_code: np.ndarray, birth_date: np.ndarray, sequence: np.ndarray
) -> np.ndarray:
    """Assemble the 17-digit body of identity numbers.

    Parameters
    ----------
    region_code
        Six-digit region codes (int or str).
    birth_date
        Birth dates as ``datetime64[D]``.
    sequence
        Sequence numbers 0-999 (odd for men, even for women).

    Returns
    -------
    numpy.ndarray
        int64 numbers ``region * 10**11 + yyyymmdd * 10**3 + sequence``.
    """
    days = np.asarray(birth_date, dtype="datetime64[D]")
    years = days.astype("datetime64[Y]").astype(np.int64) + 1970
    months = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
    mday = (days - days.astype("datetime64[M]")).astype(np.int64) + 1
    ymd = years * 10_000 + months * 100 + mday
    region = np.asarray(region_code).astype(np.int64)
    return region * 10**11 + ymd * 1000 + np.asarray(sequence, dtype=np.int64)


def random_sequences(rng: np.random.Generator, male: np.ndarray) -> np.ndarray:
    """Draw 3-digit sequence numbers whose parity matches the gender.

    Parameters
    ----------
    rng
        The generator.
    male
        Boolean gender per person.

    Returns
    -------
    numpy.ndarray
        int64 numbers 0-999, odd for men and even for women.
    """
    return rng.integers(0, 500, size=male.size) * 2 + male.astype(np.int64)


def random_phones(rng: np.random.Generator, size: int) -> np.ndarray:
    """Draw 11-digit mobile numbers.

    Parameters
    ----------
    rng
        The generator.
    size
        How many.

    Returns
    -------
    numpy.ndarray
        int64 numbers: a carrier prefix and 8 digits.
    """
    prefix = PHONE_PREFIXES[rng.integers(0, PHONE_PREFIXES.size, size=size)]
    return prefix * 10**8 + rng.integers(0, 10**8, size=size)


def random_names(
    rng: np.random.Generator,
    surnames: np.ndarray,
    male: np.ndarray,
    male_chars: np.ndarray,
    female_chars: np.ndarray,
) -> np.ndarray:
    """Draw given names (one or two characters, by gender) and join them to surnames.

    Parameters
    ----------
    rng
        The generator.
    surnames
        One surname per person.
    male
        Boolean gender per person.
    male_chars, female_chars
        The character pools of given names.

    Returns
    -------
    numpy.ndarray
        Full names, surname first.
    """
    n = surnames.size
    first = np.where(
        male,
        male_chars[rng.integers(0, male_chars.size, n)],
        female_chars[rng.integers(0, female_chars.size, n)],
    )
    second = np.where(
        male,
        male_chars[rng.integers(0, male_chars.size, n)],
        female_chars[rng.integers(0, female_chars.size, n)],
    )
    # About one given name in five has a single character (more common among older people).
    single = rng.random(n) < 0.2
    given = np.where(single, first, np.char.add(first, second))
    return np.char.add(surnames.astype(str), given)


class UniqueRegistry:
    """Keeps identity numbers and phones unique across chunks taken in order.

    Each chunk is checked against every earlier chunk; a clash is redrawn from a generator
    of its own, so the result depends only on the scenario and seed.
    """

    def __init__(self) -> None:
        self._ids: list[np.ndarray] = []
        self._phones: list[np.ndarray] = []

    @staticmethod
    def _taken(values: np.ndarray, seen: list[np.ndarray]) -> np.ndarray:
        """Which values an earlier chunk already holds (each kept sorted: a binary search)."""
        taken = np.zeros(values.size, dtype=bool)
        for earlier in seen:
            at = np.minimum(np.searchsorted(earlier, values), earlier.size - 1)
            taken |= earlier[at] == values
        return taken

    @classmethod
    def _fix(
        cls,
        values: np.ndarray,
        seen: list[np.ndarray],
        redraw: Callable[[np.ndarray], np.ndarray],
    ) -> np.ndarray:
        values = values.copy()
        while True:
            _, first = np.unique(values, return_index=True)
            clash = np.ones(values.size, dtype=bool)
            clash[first] = False
            clash |= cls._taken(values, seen)
            if not clash.any():
                return values
            values[clash] = redraw(np.flatnonzero(clash))

    def settle(
        self,
        rng: np.random.Generator,
        id_body: np.ndarray,
        male: np.ndarray,
        phones: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Make one chunk's identity numbers and phones unique, then remember them.

        Parameters
        ----------
        rng
            The chunk's generator for redraws.
        id_body
            17-digit identity bodies; a clash gets a new sequence number of the same parity.
        male
            Boolean gender per person.
        phones
            Phone numbers as int64 (current and previous numbers together).

        Returns
        -------
        tuple of numpy.ndarray
            The settled bodies and phones.
        """

        def redraw_id(where: np.ndarray) -> np.ndarray:
            stem = id_body[where] // 1000 * 1000
            return stem + random_sequences(rng, male[where])

        def redraw_phone(where: np.ndarray) -> np.ndarray:
            return random_phones(rng, where.size)

        bodies = self._fix(id_body, self._ids, redraw_id)
        phones = self._fix(phones, self._phones, redraw_phone)
        self._ids.append(np.sort(bodies))
        self._phones.append(np.sort(phones))
        return bodies, phones


def birth_dates(rng: np.random.Generator, start: dt.date, ages: np.ndarray) -> np.ndarray:
    """Draw birth dates so that each person is exactly ``age`` whole years old at ``start``.

    Parameters
    ----------
    rng
        The generator.
    start
        The day ages refer to (the first day of month 0).
    ages
        Ages in whole years.

    Returns
    -------
    numpy.ndarray
        ``datetime64[D]`` dates in ``(start - (age + 1) years, start - age years]``.
    """
    month = np.datetime64(start, "M")
    day = (np.datetime64(start, "D") - month.astype("datetime64[D]")).astype(np.int64)
    years = ages.astype(np.int64)
    latest = (month - 12 * years).astype("datetime64[D]") + day
    earliest = (month - 12 * (years + 1)).astype("datetime64[D]") + day + 1
    span = (latest - earliest).astype(np.int64) + 1
    return earliest + (rng.random(ages.size) * span).astype(np.int64)
