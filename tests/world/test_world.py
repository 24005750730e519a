"""Properties of the synthetic world: identities, behaviour, plausibility, shocks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bureau import World, load_scenario, validate_national_ids
from bureau.world.hardship import BURN_IN, hardship_matrix
from bureau.world.outcomes import HORIZON
from bureau.world.platforms import collapse_month, generate_memberships
from bureau.world.population import generate_persons
from bureau.world.signals import generate_signals

BANK_PRODUCTS = ["credit_card", "mortgage", "auto_loan", "consumer_loan"]


def _snapshot(world: World, month: int) -> pd.DataFrame:
    out = world.outcomes[world.outcomes["snapshot_month"] == month]
    return out.merge(world.persons[["person_id", "creditworthiness"]], on="person_id")


def test_identities_are_valid_and_unique(small_world: World) -> None:
    persons = small_world.persons
    assert validate_national_ids(persons["national_id"]).all()
    assert persons["national_id"].is_unique
    phones = pd.concat([persons["phone"], persons["previous_phone"].dropna()])
    assert phones.is_unique
    assert phones.str.fullmatch(r"1[3-9]\d{9}").all()
    parity = persons["national_id"].str[16].astype(int) % 2
    assert ((parity == 1) == (persons["gender"] == "M")).all()
    born = pd.to_datetime(persons["national_id"].str[6:14], format="%Y%m%d")
    assert (born == pd.to_datetime(persons["birth_date"])).all()


@pytest.mark.slow
def test_default_rate_falls_across_every_decile_of_creditworthiness(baseline_world: World) -> None:
    outcomes = baseline_world.outcomes.merge(
        baseline_world.persons[["person_id", "creditworthiness"]], on="person_id"
    )
    borrowers = outcomes[outcomes["borrower"] & ~outcomes["in_default"]]
    decile = pd.qcut(borrowers["creditworthiness"], 10, labels=False)
    rate = borrowers.groupby(decile)["default_12m"].mean().to_numpy()
    assert np.all(np.diff(rate) < 0), rate
    assert rate[0] > 10 * rate[-1]


@pytest.mark.slow
def test_annual_default_rate_among_borrowers_is_plausible(baseline_world: World) -> None:
    # Target about 4% (an assumption: bank retail NPL ratios of 1-2% plus platform, cash and
    # P2P loans, which default far more often); accepted between 3% and 6%.
    snap = _snapshot(baseline_world, 12)
    borrowers = snap[snap["borrower"] & ~snap["in_default"]]
    assert 0.03 <= borrowers["default_12m"].mean() <= 0.06


@pytest.mark.slow
def test_share_of_adults_with_a_bank_credit_account_is_plausible(baseline_world: World) -> None:
    # FACTS.md: 370M persons with a credit record at end 2015 among about 1.1 billion adults,
    # about a third, rising with credit growth to 2017: target about 35%, accepted 30-45%.
    open_at_start = baseline_world.account_months.query("month == 0")["account_id"]
    accounts = baseline_world.accounts
    bank = accounts[
        accounts["product"].isin(BANK_PRODUCTS) & accounts["account_id"].isin(open_at_start)
    ]
    share = baseline_world.persons["person_id"].isin(bank["person_id"]).mean()
    assert 0.30 <= share <= 0.45


@pytest.mark.slow
def test_dishonest_debtor_list_holds_about_one_percent(baseline_world: World) -> None:
    # FACTS.md: about 12 million people restricted in 2018, roughly 1% of adults.
    records = baseline_world.public_records
    listed = records[(records["kind"] == "dishonest_debtor") & (records["month"] <= 12)]
    on_list = listed[(listed["end_month"] < 0) | (listed["end_month"] > 12)]
    share = on_list["person_id"].nunique() / len(baseline_world.persons)
    assert 0.005 <= share <= 0.02
    assert records["wrongful"].any()
    slow = listed[(listed["due_end_month"] >= 0) & (listed["end_month"] > listed["due_end_month"])]
    assert len(slow) > 0


@pytest.mark.slow
def test_social_ties_show_homophily(baseline_world: World) -> None:
    persons = baseline_world.persons.set_index("person_id")
    social = baseline_world.ties[baseline_world.ties["kind"] == "social"]
    a = persons.loc[social["person_id"]]
    b = persons.loc[social["other_id"]]
    same_province = (a["province"].to_numpy() == b["province"].to_numpy()).mean()
    chance = (persons["province"].value_counts(normalize=True) ** 2).sum()
    assert same_province > 3 * chance
    corr = np.corrcoef(a["creditworthiness"], b["creditworthiness"])[0, 1]
    assert corr > 0.15
    age_gap = np.abs(a["age"].to_numpy() - b["age"].to_numpy()).mean()
    shuffled = np.abs(
        a["age"].to_numpy() - np.random.default_rng(0).permutation(b["age"].to_numpy())
    ).mean()
    assert age_gap < shuffled
    assert (social["person_id"] < social["other_id"]).all()
    assert not social.duplicated(["person_id", "other_id"]).any()


def test_households_share_a_region_and_are_tied(small_world: World) -> None:
    persons = small_world.persons
    assert persons.groupby("household_id")["region_code"].nunique().max() == 1
    sizes = persons.groupby("household_id").size()
    household_ties = small_world.ties[small_world.ties["kind"] == "household"]
    assert len(household_ties) == int((sizes * (sizes - 1) // 2).sum())


@pytest.mark.slow
def test_platform_use_falls_with_age(baseline_world: World) -> None:
    persons = baseline_world.persons
    shoppers = baseline_world.memberships.query("platform_id == 'taobao'")["person_id"]
    uses = persons["person_id"].isin(shoppers)
    assert uses[persons["age"] < 30].mean() > 2 * uses[persons["age"] >= 55].mean()
    carriers = baseline_world.memberships[
        baseline_world.memberships["platform_id"].isin(
            ["china_mobile", "china_unicom", "china_telecom"]
        )
    ]
    assert carriers["person_id"].is_unique
    assert len(carriers) == len(persons)


@pytest.mark.slow
def test_p2p_collapse_ends_p2p_lending_and_raises_defaults(baseline_world: World) -> None:
    collapse = collapse_month(baseline_world.scenario)
    accounts = baseline_world.accounts
    p2p = accounts[accounts["product"] == "p2p_loan"]
    assert (p2p["open_month"] < collapse).all()
    members = baseline_world.memberships
    p2p_members = members[members["platform_id"].isin(["lufax", "p2p_hongfa", "p2p_jinlian"])]
    assert (p2p_members["leave_month"] == collapse).all()
    months = baseline_world.account_months.merge(p2p[["account_id"]], on="account_id")
    onset = months[months["status"].isin([4, 5])].groupby("account_id")["month"].min()
    before = ((onset >= collapse - 6) & (onset < collapse)).sum()
    after = ((onset >= collapse) & (onset < collapse + 6)).sum()
    assert after > 1.5 * max(before, 1)


@pytest.mark.slow
def test_income_shock_raises_defaults_in_its_months(baseline_world: World) -> None:
    shock = baseline_world.scenario.shocks["pandemic"]
    am = baseline_world.account_months.merge(
        baseline_world.accounts[["account_id", "person_id", "product"]], on="account_id"
    )
    am = am[am["product"] != "p2p_loan"]
    first_bad = am[am["status"].isin([4, 5])].groupby("person_id")["month"].min()
    per_month = first_bad.value_counts().reindex(
        range(baseline_world.scenario.months), fill_value=0
    )
    # 90+ arrives three missed payments after hardship starts.
    hit = per_month.loc[shock.month + 3 : shock.month + 4].mean()
    calm = per_month.loc[shock.month - 6 : shock.month - 1].mean()
    assert hit > 1.5 * calm


def test_outcomes_match_the_account_histories(small_world: World) -> None:
    am = small_world.account_months.merge(
        small_world.accounts[["account_id", "person_id"]], on="account_id"
    )
    bad = am[am["status"].isin([4, 5])][["person_id", "month"]].drop_duplicates()
    snaps = small_world.outcomes
    expected = []
    for s in (0, 11, 23):
        window = bad[(bad["month"] > s) & (bad["month"] <= s + HORIZON)]
        expected.append(
            pd.DataFrame({"person_id": window["person_id"].unique(), "snapshot_month": s})
        )
    expected_bad = pd.concat(expected).assign(expect=True)
    got = snaps[snaps["snapshot_month"].isin([0, 11, 23])].merge(
        expected_bad, on=["person_id", "snapshot_month"], how="left"
    )
    assert (got["default_12m"] == got["expect"].fillna(False).astype(bool)).all()
    assert snaps["snapshot_month"].max() == small_world.scenario.months - HORIZON - 1


def test_delinquency_moves_one_bucket_a_month_and_ends_accounts(small_world: World) -> None:
    am = small_world.account_months.sort_values(["account_id", "month"])
    same = am["account_id"].to_numpy()[1:] == am["account_id"].to_numpy()[:-1]
    step = np.diff(am["month"].to_numpy())[same]
    assert (step == 1).all()
    prev = am["status"].to_numpy()[:-1][same]
    nxt = am["status"].to_numpy()[1:][same]
    worsening = (nxt <= 4) & (nxt > prev)
    assert (nxt[worsening] == prev[worsening] + 1).all()
    assert not np.isin(prev, [5, 6]).any()  # charged-off and closed rows are each account's last
    cured = (prev > 0) & (prev <= 4) & (nxt == 0)
    assert cured.any()


def test_applications_and_accounts_agree(small_world: World) -> None:
    apps = small_world.applications
    accounts = small_world.accounts.set_index("account_id")
    approved = apps[apps["approved"]]
    assert (apps.loc[~apps["approved"], "account_id"] == -1).all()
    linked = accounts.loc[approved["account_id"]]
    assert (linked["application_id"].to_numpy() == approved["application_id"].to_numpy()).all()
    assert (linked["open_month"].to_numpy() == approved["month"].to_numpy()).all()
    assert (small_world.accounts["application_id"] == -1).sum() > 0  # held before the window


def test_hardship_shows_in_signals() -> None:
    scn = load_scenario("small")
    persons = generate_persons(scn, 0)
    memberships = generate_memberships(scn, 0, persons)
    hardship = hardship_matrix(scn, 0, persons)[:, BURN_IN:]
    signals = generate_signals(scn, 0, persons, memberships, hardship)
    in_hardship = hardship.ravel()
    # Compare each person with themselves: months in hardship against their other months.
    both = pd.Series(in_hardship).groupby(signals["person_id"].to_numpy()).transform("nunique") == 2
    frame = signals[both.to_numpy()].assign(hard=in_hardship[both.to_numpy()])
    means = frame.groupby("hard")[
        ["utility_on_time", "phone_bill_on_time", "ecommerce_spend"]
    ].mean()
    assert means.loc[True, "utility_on_time"] < means.loc[False, "utility_on_time"] - 0.1
    assert means.loc[True, "phone_bill_on_time"] < means.loc[False, "phone_bill_on_time"] - 0.1
    assert means.loc[True, "ecommerce_spend"] < means.loc[False, "ecommerce_spend"]
    assert len(signals) == len(persons) * scn.months
    shoppers = memberships[memberships["platform_id"].isin(["taobao", "jd"])]
    never = ~signals["person_id"].isin(shoppers["person_id"])
    assert signals.loc[never, "ecommerce_spend"].isna().all()


def test_habits_show_in_signals_as_strongly_as_the_scenario_says() -> None:
    def habit_correlations(strength: float) -> pd.Series:
        scn = load_scenario("small", {"signals.habit_signal": strength})
        persons = generate_persons(scn, 0)
        memberships = generate_memberships(scn, 0, persons)
        hardship = hardship_matrix(scn, 0, persons)[:, BURN_IN:]
        signals = generate_signals(scn, 0, persons, memberships, hardship)
        per_person = signals.groupby("person_id")[["utility_on_time", "gaming_minutes"]].mean()
        traits = persons.set_index("person_id").loc[per_person.index]
        return pd.Series(
            {
                "bills": np.corrcoef(per_person["utility_on_time"], traits["creditworthiness"])[
                    0, 1
                ],
                "gaming": np.corrcoef(per_person["gaming_minutes"], traits["impulsivity"])[0, 1],
            }
        )

    none, built_in, strong = (habit_correlations(s) for s in (0.0, 1.0, 3.0))
    # Without habits, the signals follow the traits only through hardship.
    assert (none < built_in).all() and (built_in < strong).all()
    assert strong["bills"] > none["bills"] + 0.1
