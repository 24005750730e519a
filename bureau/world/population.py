"""Persons: households, demography, income, device and the latent traits behind behaviour.

Persons are generated household by household, so that members share a region, a hukou and part
of their creditworthiness. The latent traits (creditworthiness, impulsivity, digital-footprint
intensity) are in standard-deviation units; everything a bureau can ever see is downstream of
them, never the traits themselves.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bureau.config.scenario import Scenario
from bureau.reference import reference
from bureau.rng import generator
from bureau.world.common import expit, income_score
from bureau.world.identity import (
    birth_dates,
    national_id_body,
    random_names,
    random_phones,
    random_sequences,
)

EDUCATION = ("primary", "junior_secondary", "senior_secondary", "college", "bachelor_plus")
OCCUPATIONS = (
    "farmer",
    "factory_worker",
    "service_worker",
    "self_employed",
    "clerk",
    "professional",
    "civil_servant",
    "student",
    "retired",
)
AGE_BAND_EDGES = (18, 25, 35, 45, 55, 65)

# Cut points of the latent education score. With the score's spread they give roughly the
# adult attainment of the 2020 census: about a quarter primary or less, a third junior
# secondary, then senior secondary, college and bachelor's degrees.
_EDUCATION_CUTS = np.array([-0.75, 0.35, 0.95, 1.45])

# Occupation utilities: intercept, per education level, urban hukou, and age terms. An
# assumption, shaped to give mostly farmers among older rural people, students among the
# youngest, and professionals and clerks among the educated urban.
_OCC_INTERCEPT = np.array([0.4, 0.6, 0.6, 0.0, -0.2, -1.2, -1.6, -3.0, -4.0])
_OCC_EDUCATION = np.array([-0.9, -0.3, 0.0, 0.0, 0.5, 1.2, 0.9, 0.6, -0.1])
_OCC_URBAN = np.array([-2.5, 0.0, 0.4, 0.3, 0.6, 0.6, 0.5, 0.2, 0.6])
_OCC_YOUNG = np.array([-1.0, 0.3, 0.4, -0.5, 0.2, 0.0, -0.3, 4.0, -6.0])
_OCC_OLD = np.array([0.6, -0.6, -0.6, 0.0, -0.8, -0.6, -0.2, -6.0, 5.5])
# Log income relative to the tier median, by occupation and per education level.
_OCC_INCOME = np.array([-0.45, 0.0, -0.1, 0.15, 0.1, 0.45, 0.25, -1.4, -0.5])
_EDU_INCOME = 0.22


def _household_sizes(rng: np.random.Generator, weights: list[float], n: int) -> np.ndarray:
    p = np.asarray(weights, dtype=float) / np.sum(weights)
    sizes = rng.choice(np.arange(1, 5), size=n, p=p)
    total = np.cumsum(sizes)
    keep = int(np.searchsorted(total, n)) + 1
    sizes = sizes[:keep]
    sizes[-1] -= total[keep - 1] - n
    return sizes


def _ages(rng: np.random.Generator, scn: Scenario, size: int) -> np.ndarray:
    pop = scn.population
    edges = np.array([*AGE_BAND_EDGES, pop.age_max + 1], dtype=float)
    edges = np.clip(edges, pop.age_min, pop.age_max + 1)
    w = np.asarray(pop.age_band_weights, dtype=float) * (np.diff(edges) > 0)
    band = rng.choice(w.size, size=size, p=w / w.sum())
    return np.floor(edges[band] + rng.random(size) * (edges[band + 1] - edges[band]))


def generate_persons(scn: Scenario, chunk: int) -> pd.DataFrame:
    """Generate the persons of one chunk (identity numbers not yet settled across chunks).

    Parameters
    ----------
    scn
        The scenario.
    chunk
        The 0-based chunk index.

    Returns
    -------
    pandas.DataFrame
        One row per person; see its columns in docs/outputs.md. ``national_id`` and the phone
        columns are unique within the chunk; :class:`bureau.world.identity.UniqueRegistry`
        settles them across chunks.
    """
    rng = generator(scn.seed, "world.persons", chunk)
    ref = reference()
    pop = scn.population
    first_id, n = scn.chunk_bounds(chunk)

    sizes = _household_sizes(rng, pop.household_adults, n)
    hh = np.repeat(np.arange(sizes.size), sizes)
    rank = np.arange(n) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    head = np.repeat(np.cumsum(sizes) - sizes, sizes)

    regions = ref.regions
    region_row = rng.choice(
        len(regions), size=sizes.size, p=regions["weight"].to_numpy() / regions["weight"].sum()
    )[hh]
    tier = regions["tier"].to_numpy()[region_row]
    urban = rng.random(sizes.size)[hh] < np.asarray(pop.urban_hukou_by_tier)[tier - 1]

    # Ages and genders follow the household's structure: a head, a spouse of the other gender
    # and similar age, and then an adult child or a parent of the head.
    head_age = _ages(rng, scn, sizes.size)[hh]
    head_male = (rng.random(sizes.size) < pop.male_share)[hh]
    older_head = head_age >= 45
    age = np.where(
        rank == 0,
        head_age,
        np.where(
            rank == 1,
            head_age + np.round(rng.normal(0, 3, n)),
            np.where(older_head, head_age - 27, head_age + 27) + np.round(rng.normal(0, 3, n)),
        ),
    )
    age = np.clip(age, pop.age_min, pop.age_max).astype(np.int16)
    male = np.where(rank == 0, head_male, np.where(rank == 1, ~head_male, rng.random(n) < 0.5))

    # Wives keep their own surnames; children take the father's, here the head's.
    own_surname = ref.surnames[rng.choice(ref.surnames.size, size=n, p=ref.surname_p)]
    same_as_head = (rank >= 2) & (rng.random(n) < 0.8)
    surname = np.where(same_as_head, own_surname[head], own_surname)

    # Education: younger, urban and richer-tier people study longer.
    edu_score = (
        0.8 * urban
        - 0.035 * (age - 40)
        - 0.25 * (tier - 2)
        + rng.normal(0, 0.9, n)
        + 0.3 * rng.normal(0, 1, sizes.size)[hh]
    )
    education = np.searchsorted(_EDUCATION_CUTS, edu_score).astype(np.int8)

    young = np.clip((25 - age) / 7, 0, None)
    old = np.clip((age - 58) / 5, 0, None)
    utility = (
        _OCC_INTERCEPT
        + _OCC_EDUCATION * (education[:, None] - 1.5)
        + _OCC_URBAN * urban[:, None]
        + _OCC_YOUNG * young[:, None]
        + _OCC_OLD * old[:, None]
        + rng.gumbel(size=(n, len(OCCUPATIONS)))
    )
    occupation = np.argmax(utility, axis=1).astype(np.int8)

    age_curve = -0.0009 * (age - 42.0) ** 2
    log_income = (
        np.log(np.asarray(pop.income_median_by_tier)[tier - 1])
        + np.log(pop.rural_income_factor) * ~urban
        + _EDU_INCOME * (education - 1.5)
        + _OCC_INCOME[occupation]
        + age_curve
        + rng.normal(0, pop.income_sigma, n)
    )
    # Whole tens of yuan, at least 100 a month (a pension or transfer floor).
    income = np.maximum(np.round(np.exp(log_income), -1), 100).astype(np.int32)
    income_z = income_score(income)

    ios = rng.random(n) < expit(-0.9 + 0.7 * income_z - 0.3 * (tier - 2) - 0.02 * (age - 35))

    # Latent traits. Creditworthiness is part shared in the household, part own, and leans on
    # income and education; impulsivity falls with age; the digital footprint is heaviest
    # among the young, urban and iPhone users.
    share = pop.household_creditworthiness_share
    impulsivity = (-0.025 * (age - 40) + rng.normal(0, 1, n)) / 1.08
    cw_raw = (
        np.sqrt(share) * rng.normal(0, 1, sizes.size)[hh]
        + np.sqrt(1 - share) * rng.normal(0, 1, n)
        + 0.3 * income_z
        + 0.15 * (education - 1.5)
        - 0.25 * impulsivity
    )
    creditworthiness = cw_raw / 1.12
    digital = (
        -0.04 * (age - 40) + 0.35 * urban - 0.2 * (tier - 2) + 0.4 * ios + rng.normal(0, 1, n)
    ) / 1.2

    birth = birth_dates(rng, scn.start_date, age)
    region_code = regions["region_code"].to_numpy()[region_row]
    id_body = national_id_body(region_code, birth, random_sequences(rng, male))
    phone = random_phones(rng, n)
    has_previous = rng.random(n) < pop.previous_phone_share
    # The month the current number came into use: before the window or inside it.
    phone_since = np.where(
        has_previous, rng.integers(-36, scn.months, n), rng.integers(-120, 0, n)
    ).astype(np.int16)
    previous_phone = random_phones(rng, n)
    name = random_names(rng, surname, male, ref.male_chars, ref.female_chars)

    provinces = ref.provinces
    return pd.DataFrame(
        {
            "person_id": np.arange(first_id, first_id + n, dtype=np.int64),
            "id_body": id_body,
            "name": name,
            "birth_date": birth.astype("datetime64[ms]"),
            "gender": pd.Categorical.from_codes((~male).astype(np.int8), ["M", "F"]),
            "phone_number": phone,
            "previous_phone_number": np.where(has_previous, previous_phone, -1),
            "phone_since": phone_since,
            "age": age,
            "region_code": region_code,
            "province": pd.Categorical(regions["province"].to_numpy()[region_row], provinces),
            "city": regions["city"].to_numpy()[region_row],
            "city_tier": tier.astype(np.int8),
            "hukou": pd.Categorical.from_codes((~urban).astype(np.int8), ["urban", "rural"]),
            "education": pd.Categorical.from_codes(education, EDUCATION),
            "occupation": pd.Categorical.from_codes(occupation, OCCUPATIONS),
            "monthly_income": income,
            "device": pd.Categorical.from_codes((~ios).astype(np.int8), ["ios", "android"]),
            "household_id": (first_id + head).astype(np.int64),
            "creditworthiness": creditworthiness.astype(np.float32),
            "impulsivity": impulsivity.astype(np.float32),
            "digital_footprint": digital.astype(np.float32),
        }
    )
