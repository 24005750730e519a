"""Credit origination: accounts held at the start, applications, screening and new accounts.

Before the window, some people already hold accounts (more often the creditworthy, the richer,
and for platform products the platform's members). During the window, people apply for credit
at a monthly rate that rises with impulsivity and, sharply, in hardship: the credit-hungry are
the risky. Each application goes to one lender offering the product (weighted by market share,
restricted to members of the lender's platform where it has one, and closed for P2P lenders once
the sector collapses). The lender approves when its noisy view of the applicant's risk clears
its cut-off: banks look closely and demand much, P2P lenders look little and approve many.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bureau.config.market import AGGREGATOR, OWN_JUDGMENT
from bureau.config.scenario import Scenario
from bureau.rng import KeyedDraws, generator
from bureau.world.common import expit, income_score, logit, rows_of
from bureau.world.keys import chunk_keys, derived_keys
from bureau.world.platforms import collapse_month

# How many accounts of a product one person opens at most, counting those held at the start
# (an assumption: several cards, one mortgage, repeated small loans). Once there, the person
# stops applying for that product.
_HOLDING_CAP = {
    "credit_card": 3,
    "mortgage": 1,
    "auto_loan": 1,
    "consumer_loan": 2,
    "credit_line": 1,
    "cash_loan": 12,
    "p2p_loan": 12,
}
_LARGE = np.int16(30_000)


def _demand(product: str, persons: pd.DataFrame) -> np.ndarray:
    """Log-odds shift of holding or seeking a product, by person (an assumption)."""
    age = persons["age"].to_numpy().astype(float)
    tier = persons["city_tier"].to_numpy().astype(float)
    income_z = income_score(persons["monthly_income"])
    urban = (persons["hukou"] == "urban").to_numpy()
    digital = persons["digital_footprint"].to_numpy().astype(float)
    imp = persons["impulsivity"].to_numpy().astype(float)
    if product == "credit_card":
        return 0.6 * income_z - 0.25 * (tier - 2) - 0.03 * np.abs(age - 36) + 0.4 * urban
    if product == "mortgage":
        return 0.6 * income_z - 0.05 * np.abs(age - 38) + 0.6 * urban - 0.2 * (tier - 2)
    if product == "auto_loan":
        return 0.6 * income_z - 0.04 * np.abs(age - 35) - 0.1 * (tier - 2)
    if product == "consumer_loan":
        return 0.3 * income_z - 0.03 * np.abs(age - 35) + 0.2 * urban
    if product == "credit_line":
        return 0.8 * digital + 0.2 * imp - 0.03 * np.abs(age - 28)
    if product == "cash_loan":
        return 0.5 * digital + 0.4 * imp - 0.2 * income_z - 0.03 * np.abs(age - 30)
    return 0.6 * imp + 0.3 * digital - 0.3 * income_z - 0.03 * np.abs(age - 32)


class _Lenders:
    """Which lenders a person may borrow from, in which month."""

    def __init__(self, scn: Scenario, persons: pd.DataFrame, memberships: pd.DataFrame) -> None:
        self.scn = scn
        self.lender_ids = lender_ids(scn)
        platform_ids = list(memberships["platform_id"].cat.categories)
        n = len(persons)
        self.join = np.full((n, len(platform_ids)), _LARGE, dtype=np.int16)
        self.leave = np.full((n, len(platform_ids)), _LARGE, dtype=np.int16)
        rows = rows_of(persons, memberships["person_id"])
        cols = memberships["platform_id"].cat.codes.to_numpy()
        self.join[rows, cols] = memberships["join_month"].to_numpy()
        leave = memberships["leave_month"].to_numpy()
        self.leave[rows, cols] = np.where(leave >= 0, leave, _LARGE)
        col = {p: j for j, p in enumerate(platform_ids)}
        self.requires = [
            col.get(scn.lenders[lid].requires_platform or "", -1) for lid in self.lender_ids
        ]
        self.own_platform = [col.get(lid, -1) for lid in self.lender_ids]
        self.collapse = collapse_month(scn)
        self.noise = np.array([scn.lenders[lid].screening_noise for lid in self.lender_ids])
        self.strictness = np.array([scn.lenders[lid].strictness for lid in self.lender_ids])

    def _member(self, platform: int, person: np.ndarray, month: np.ndarray) -> np.ndarray:
        return (self.join[person, platform] <= month) & (month < self.leave[person, platform])

    def choose(
        self, rng: np.random.Generator, product: str, person: np.ndarray, month: np.ndarray
    ) -> np.ndarray:
        """Pick a lender for each (person, month) seeking ``product``; -1 where none is open."""
        offering = [
            j for j, lid in enumerate(self.lender_ids) if product in self.scn.lenders[lid].products
        ]
        weight = np.zeros((person.size, len(offering)))
        for k, j in enumerate(offering):
            lender = self.scn.lenders[self.lender_ids[j]]
            w = np.full(person.size, lender.share)
            if self.requires[j] >= 0:
                w *= self._member(self.requires[j], person, month)
            if lender.kind == "p2p" and self.collapse is not None:
                w *= month < self.collapse
            if self.own_platform[j] >= 0 and lender.member_preference:
                w *= 1.0 + lender.member_preference * self._member(
                    self.own_platform[j], person, month
                )
            weight[:, k] = w
        cum = np.cumsum(weight, axis=1)
        total = cum[:, -1]
        pick = (cum < (rng.random(person.size) * total)[:, None]).sum(axis=1)
        chosen = np.asarray(offering)[np.minimum(pick, len(offering) - 1)]
        return np.where(total > 0, chosen, -1)


def application_intents(
    scn: Scenario,
    chunk: int,
    persons: pd.DataFrame,
    memberships: pd.DataFrame,
    hardship: np.ndarray,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Draw the accounts held at the start and every application the chunk's persons would make.

    Nothing here depends on any decision: who seeks which product in which month, at which
    lender, and how that lender's own screening sees them. Which of these applications are
    made (a person stops applying once they hold enough accounts of a product) and which are
    approved is settled by :func:`originate`.

    Parameters
    ----------
    scn
        The scenario.
    chunk
        The 0-based chunk index.
    persons
        The chunk's persons.
    memberships
        The chunk's platform memberships.
    hardship
        The chunk's hardship matrix (persons x months).

    Returns
    -------
    tuple of pandas.DataFrame
        ``(held, intents)``: the accounts held at the start (``p``, the person's row;
        ``product``, a code into ``scn.product_ids``; ``lender``, a code into the sorted
        lender ids) and the applications, in person, product and month order, with their
        ``application_id`` and ``own_approved``, the decision of the lender's own screening.
    """
    rng = generator(scn.seed, "world.credit", chunk)
    market = _Lenders(scn, persons, memberships)
    beh = scn.behaviour
    n, t = len(persons), scn.months
    cw = persons["creditworthiness"].to_numpy().astype(float)
    imp = persons["impulsivity"].to_numpy().astype(float)
    age = persons["age"].to_numpy()

    held_parts, app_parts = [], []
    for code, product in enumerate(scn.product_ids):
        spec = scn.products[product]
        demand = _demand(product, persons)
        eligible = age >= spec.min_age

        # Accounts held at the start were approved before the window, so they lean creditworthy.
        odds = logit(spec.held_at_start) + demand + 0.7 * cw
        held = eligible & (rng.random(n) < expit(odds))
        who = np.flatnonzero(held)
        lender = market.choose(rng, product, who, np.zeros(who.size, dtype=np.int16))
        who, lender = who[lender >= 0], lender[lender >= 0]
        held_parts.append(pd.DataFrame({"p": who, "product": code, "lender": lender, "month": -1}))

        # Applications during the window, a Bernoulli draw per person and month.
        rate = spec.application_rate * np.exp(demand + beh.application_impulsivity_effect * imp)
        rate = rate[:, None] * np.where(hardship, beh.application_hardship_multiplier, 1.0)
        applied = (rng.random((n, t)) < np.minimum(rate, 0.5)) & eligible[:, None]
        who, month = np.nonzero(applied)
        lender = market.choose(rng, product, who, month.astype(np.int16))
        ok = lender >= 0
        who, month, lender = who[ok], month[ok], lender[ok]
        view = cw[who] + rng.normal(0, 1, who.size) * market.noise[lender]
        # Lenders glimpse hardship through recent arrears and a burst of applications.
        view -= 0.5 * hardship[who, month]
        own = view > spec.approval_cutoff + market.strictness[lender]
        app_parts.append(
            pd.DataFrame(
                {"p": who, "product": code, "lender": lender, "month": month, "own_approved": own}
            )
        )

    held = pd.concat(held_parts, ignore_index=True)
    intents = pd.concat(app_parts, ignore_index=True).sort_values(
        ["p", "product", "month"], kind="stable", ignore_index=True
    )
    # Numbered before any is decided, so that an application keeps its id in every regime.
    intents["application_id"] = chunk_keys(chunk, len(intents))
    return held, intents


def originate(
    scn: Scenario,
    chunk: int,
    persons: pd.DataFrame,
    memberships: pd.DataFrame,
    hardship: np.ndarray,
    decisions: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Generate the accounts and credit applications of one chunk.

    Parameters
    ----------
    scn
        The scenario.
    chunk
        The 0-based chunk index.
    persons
        The chunk's persons.
    memberships
        The chunk's platform memberships.
    hardship
        The chunk's hardship matrix (persons x months).
    decisions
        Decisions made elsewhere (by lenders with bureau scores), with the columns of
        :data:`~bureau.config.market.DECISION_COLUMNS`; ``amount_factor`` scales an approved
        loan. An application not in it is decided by its lender's own screening. None: every
        one is.

    Returns
    -------
    tuple of pandas.DataFrame
        ``(accounts, applications, declined)``. Accounts carry their terms but not yet their
        fate (see :func:`bureau.world.repayment.repay`); ``declined`` holds the loans the
        declined applications would have opened, which never enter the world but whose fate
        is the counterfactual truth.
    """
    keyed = KeyedDraws(scn.seed, "world.credit")
    held, apps = application_intents(scn, chunk, persons, memberships, hardship)
    products = scn.product_ids
    apps["approved"] = apps["own_approved"]
    apps["decided_by"] = OWN_JUDGMENT
    apps["pd"] = np.nan
    apps["amount_factor"] = 1.0
    if decisions is not None and len(decisions):
        given = decisions.set_index("application_id").reindex(apps["application_id"])
        found = given["approved"].notna().to_numpy()
        for column in ("approved", "decided_by", "pd", "amount_factor"):
            values = given[column].to_numpy()
            apps[column] = np.where(found, values, apps[column].to_numpy())
        apps["approved"] = apps["approved"].astype(bool)
        apps["pd"] = apps["pd"].astype(float)
        apps["amount_factor"] = apps["amount_factor"].astype(float)

    # Drop applications made once the person already holds as many accounts of the product as
    # anyone would; pre-existing accounts count.
    held_count = held.groupby(["p", "product"]).size()
    prior = apps.groupby(["p", "product"])["approved"].cumsum() - apps["approved"]
    already = held_count.reindex(pd.MultiIndex.from_frame(apps[["p", "product"]])).fillna(0)
    cap = np.array([_HOLDING_CAP[p] for p in products])[apps["product"].to_numpy()]
    apps = apps[(prior.to_numpy() + already.to_numpy()) < cap].reset_index(drop=True)

    income = persons["monthly_income"].to_numpy().astype(float)
    held = held.assign(application_id=-1, account_id=chunk_keys(chunk, len(held)))
    held = _terms(keyed, scn, products, held, income, held=True)
    # Every application's loan is drawn whatever its decision: the declined ones' loans are the
    # counterfactual, on the same terms the approved ones would have had.
    loans = apps[["p", "product", "lender", "month", "application_id"]].assign(
        account_id=derived_keys(apps["application_id"].to_numpy(), slot=1)
    )
    loans = _terms(keyed, scn, products, loans, income, held=False)
    factor = np.where(apps["approved"].to_numpy(), apps["amount_factor"].to_numpy(), 1.0)
    loans["amount"] = np.maximum(np.round(loans["amount"].to_numpy() * factor, -2), 500)
    approved = apps["approved"].to_numpy()
    apps["account_id"] = np.where(approved, loans["account_id"].to_numpy(), -1)
    apps["amount"] = loans["amount"].to_numpy()

    person_ids = persons["person_id"].to_numpy()
    frames = [
        _accounts_frame(part, person_ids, lender_ids(scn), products)
        for part in (pd.concat([held, loans[approved]], ignore_index=True), loans[~approved])
    ]
    decided_by = [OWN_JUDGMENT, *scn.active_bureaus, AGGREGATOR]
    applications = pd.DataFrame(
        {
            "application_id": apps["application_id"].to_numpy(),
            "person_id": person_ids[apps["p"].to_numpy()],
            "lender_id": pd.Categorical.from_codes(apps["lender"].to_numpy(), lender_ids(scn)),
            "product": pd.Categorical.from_codes(apps["product"].to_numpy(), products),
            "month": apps["month"].to_numpy().astype(np.int16),
            "approved": approved,
            "account_id": apps["account_id"].to_numpy().astype(np.int64),
            "amount": apps["amount"].to_numpy().astype(np.int64),
            "decided_by": pd.Categorical(apps["decided_by"].to_numpy(), categories=decided_by),
            "pd": apps["pd"].to_numpy().astype(np.float32),
        }
    )
    return frames[0], applications, frames[1]


def lender_ids(scn: Scenario) -> list[str]:
    """The scenario's lender ids, in the order of the world's lender codes.

    Parameters
    ----------
    scn
        The scenario.

    Returns
    -------
    list of str
        The sorted lender ids.
    """
    return sorted(scn.lenders)


def _accounts_frame(
    accounts: pd.DataFrame, person_ids: np.ndarray, lenders: list[str], products: list[str]
) -> pd.DataFrame:
    """The world's accounts table from drawn accounts."""
    return pd.DataFrame(
        {
            "account_id": accounts["account_id"].to_numpy().astype(np.int64),
            "person_id": person_ids[accounts["p"].to_numpy()],
            "lender_id": pd.Categorical.from_codes(accounts["lender"].to_numpy(), lenders),
            "product": pd.Categorical.from_codes(accounts["product"].to_numpy(), products),
            "open_month": accounts["open_month"].to_numpy().astype(np.int16),
            "term_months": accounts["term_months"].to_numpy().astype(np.int16),
            "amount": accounts["amount"].to_numpy().astype(np.int64),
            "annual_rate": accounts["annual_rate"].to_numpy().astype(np.float32),
            "application_id": accounts["application_id"].to_numpy().astype(np.int64),
        }
    )


def _terms(
    keyed: KeyedDraws,
    scn: Scenario,
    products: list[str],
    accounts: pd.DataFrame,
    income: np.ndarray,
    *,
    held: bool,
) -> pd.DataFrame:
    """Draw each account's amount, rate, term and (for accounts held at the start) age.

    Every draw is keyed by the account, so an account's terms do not depend on which other
    accounts exist.
    """
    code = accounts["product"].to_numpy()
    key = accounts["account_id"].to_numpy()
    multiple = np.array([scn.products[p].amount_income_multiple for p in products])[code]
    rate = np.array([scn.products[p].annual_rate for p in products])[code]
    revolving = np.array([scn.products[p].revolving for p in products])[code]
    counts = np.array([max(len(scn.products[p].terms), 1) for p in products])[code]
    table = np.zeros((len(products), int(counts.max(initial=1))), dtype=np.int64)
    for j, product in enumerate(products):
        terms = scn.products[product].terms
        table[j, : len(terms)] = terms
    term = table[code, keyed.integers("term", 0, counts, key)]
    spread = np.exp(0.35 * keyed.normal("amount", key))
    amount = income[accounts["p"].to_numpy()] * multiple * spread
    amount = np.maximum(np.round(amount, -2), 500)
    if held:
        # An account held at the start is part-way through its life: up to 8 years old when
        # revolving, and with at least one instalment left otherwise.
        u = keyed.uniform("age", key)
        age = np.floor(u * np.where(revolving, 96, np.maximum(term - 1, 1))) + 1
        open_month = -age
    else:
        open_month = accounts["month"].to_numpy()
    return accounts.assign(
        open_month=open_month,
        term_months=term,
        amount=amount,
        annual_rate=rate * (0.85 + 0.3 * keyed.uniform("rate", key)),
    )
