"""What the credit market did, measured against the truth: lending, shares, access, selection.

Pure functions of tables: the world's applications (with the counterfactual outcome of every
declined one), the market's rounds (what each lender bought, each bureau's answers and what its
model reported to itself) and the persons. Every rate comes from the true outcome of a loan:
``default_12m`` for an approved application, ``counterfactual_default_12m`` for a declined one
(what its loan would have done), never furnished to anyone. Applications whose 12 months were
not yet over when the window closed are left out of default rates.

Tables:

- ``lending``: per round and lender, applications, approvals, the true default rate of the
  approved and the counterfactual one of the declined, losses and a simple margin;
- ``market_share``: per round and bureau, the lenders subscribing, their inquiries, the share
  of the round's inquiries and the revenue;
- ``credit_access`` (:mod:`bureau.analysis.access`): per round and group of applicants, the
  approval rate and the default rate of the approved, with bootstrap 95% intervals;
- ``selection_bias``: per round and bureau, the AUC of its scores on every applicant it scored
  (through the door), on the approved only (the booked accounts it later learns from) and the
  AUC its model reported on its own development sample.

Round ``0`` is the time before the market opened, when lenders decided on their own.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

#: Share of a defaulted loan's amount that is lost (an assumption of the margin).
LOSS_GIVEN_DEFAULT = 0.6
#: The lending table's columns after its key (``round``, ``lender``).
LENDING_COLUMNS = (
    "applications",
    "approvals",
    "approval_rate",
    "approved_known",
    "default_rate_approved",
    "counterfactual_default_rate_declined",
    "lent",
    "losses",
    "interest",
    "inquiry_cost",
    "margin",
)


def assign_rounds(month: np.ndarray, rounds: list[int], round_months: int) -> np.ndarray:
    """The round of each month: its first month, or 0 before the market.

    Parameters
    ----------
    month
        Months.
    rounds
        The first month of each round, in order.
    round_months
        Months per round.

    Returns
    -------
    numpy.ndarray
        int64 round starts (0 for months before the first round).
    """
    month = np.asarray(month, dtype=np.int64)
    if not rounds:
        return np.zeros(month.size, dtype=np.int64)
    starts = np.asarray(rounds, dtype=np.int64)
    at = np.searchsorted(starts, month, side="right") - 1
    inside = (at >= 0) & (month < starts[np.maximum(at, 0)] + round_months)
    return np.where(inside, starts[np.maximum(at, 0)], 0)


def loan_outcome(applications: pd.DataFrame) -> np.ndarray:
    """Each application's true outcome: its loan's, or the counterfactual loan's (NaN unknown).

    Parameters
    ----------
    applications
        The world's applications.

    Returns
    -------
    numpy.ndarray
        float: 1 bad, 0 good, NaN not known within the window.
    """
    actual = applications["default_12m"].astype("Float64")
    other = applications["counterfactual_default_12m"].astype("Float64")
    return actual.fillna(other).to_numpy(dtype=float, na_value=np.nan)


def lending_table(
    applications: pd.DataFrame,
    lenders: pd.DataFrame,
    prices: dict[str, float],
) -> pd.DataFrame:
    """Per round and lender: who applied, who got credit, how it went, what it earned.

    Parameters
    ----------
    applications
        The world's applications with a ``round`` column (:func:`assign_rounds`) and the
        loan's ``annual_rate``.
    lenders
        What each lender bought each round: ``round``, ``lender``, ``option`` (bureaus
        joined by ``+``).
    prices
        Each bureau's price per inquiry.

    Returns
    -------
    pandas.DataFrame
        ``round``, ``lender``, ``applications``, ``approvals``, ``approval_rate``,
        ``approved_known`` (approved loans whose 12 months ended in the window),
        ``default_rate_approved``, ``counterfactual_default_rate_declined``, ``lent``,
        ``losses`` (the defaulted amounts of those loans times :data:`LOSS_GIVEN_DEFAULT`),
        ``interest`` (a year's interest on those that did not default), ``inquiry_cost`` and
        ``margin`` (interest less losses and inquiry costs; empty where no approved loan's
        outcome is known).
    """
    outcome = loan_outcome(applications)
    approved = applications["approved"].to_numpy(dtype=bool)
    amount = applications["amount"].to_numpy(dtype=float)
    rate = applications["annual_rate"].to_numpy(dtype=float)
    bad = np.nan_to_num(outcome) > 0
    known = approved & ~np.isnan(outcome)
    frame = pd.DataFrame(
        {
            "round": applications["round"].to_numpy(),
            "lender": applications["lender_id"].astype(str).to_numpy(),
            "approved": approved,
            "outcome_approved": np.where(approved, outcome, np.nan),
            "outcome_declined": np.where(approved, np.nan, outcome),
            "known": known,
            "lent": np.where(approved, amount, 0.0),
            "losses": np.where(known & bad, amount * LOSS_GIVEN_DEFAULT, 0.0),
            "interest": np.where(known & ~bad, amount * np.nan_to_num(rate), 0.0),
        }
    )
    grouped = frame.groupby(["round", "lender"], sort=True)
    table = grouped.agg(
        applications=("approved", "size"),
        approvals=("approved", "sum"),
        approved_known=("known", "sum"),
        lent=("lent", "sum"),
        losses=("losses", "sum"),
        interest=("interest", "sum"),
    )
    table["approval_rate"] = table["approvals"] / table["applications"]
    # The mean of each group's known outcomes (NaN where none is known).
    table["default_rate_approved"] = grouped["outcome_approved"].mean()
    table["counterfactual_default_rate_declined"] = grouped["outcome_declined"].mean()
    cost = {
        (int(r.round), str(r.lender)): sum(
            prices.get(b, 0.0) for b in str(r.option).split("+") if b
        )
        for r in lenders.itertuples()
    }
    keys = list(table.index)
    table["inquiry_cost"] = [cost.get((int(r), str(lid)), 0.0) for r, lid in keys] * table[
        "applications"
    ].to_numpy()
    margin = table["interest"] - table["losses"] - table["inquiry_cost"]
    table["margin"] = margin.where(table["approved_known"] > 0)
    return table[list(LENDING_COLUMNS)].reset_index()


def market_share_table(
    applications: pd.DataFrame, lenders: pd.DataFrame, prices: dict[str, float]
) -> pd.DataFrame:
    """Per round and bureau: subscribing lenders, inquiries, share of inquiries, revenue.

    Parameters
    ----------
    applications
        The world's applications with a ``round`` column.
    lenders
        What each lender bought each round: ``round``, ``lender``, ``option``.
    prices
        Each bureau's price per inquiry.

    Returns
    -------
    pandas.DataFrame
        ``round``, ``bureau``, ``subscribers``, ``inquiries``, ``share``, ``revenue``: one row
        per round and bureau of ``prices`` (zero where no lender bought from it).
    """
    made = applications.groupby(["round", applications["lender_id"].astype(str)]).size()
    rows = []
    for start in sorted(lenders["round"].unique()):
        bought = lenders[lenders["round"] == start]
        for bureau in sorted(prices):
            buyers = [r.lender for r in bought.itertuples() if bureau in str(r.option).split("+")]
            asked = int(sum(made.get((start, lender), 0) for lender in buyers))
            rows.append(
                {
                    "round": int(start),
                    "bureau": bureau,
                    "subscribers": len(buyers),
                    "inquiries": asked,
                    "revenue": asked * prices[bureau],
                }
            )
    table = pd.DataFrame(rows, columns=["round", "bureau", "subscribers", "inquiries", "revenue"])
    total = table.groupby("round")["inquiries"].transform("sum")
    table.insert(4, "share", np.where(total > 0, table["inquiries"] / total.replace(0, 1), 0.0))
    return table


def _auc(bad: np.ndarray, pd_: np.ndarray) -> float:
    if bad.size == 0 or bad.all() or not bad.any():
        return float("nan")
    return float(roc_auc_score(bad, pd_))


def selection_bias_table(
    applications: pd.DataFrame, answers: pd.DataFrame, models: pd.DataFrame
) -> pd.DataFrame:
    """Per round and bureau: its scores' AUC through the door, on the booked, and as it saw it.

    Parameters
    ----------
    applications
        The world's applications with a ``round`` column (only the applications made).
    answers
        The bureaus' answers: ``application_id``, ``bureau``, ``pd``.
    models
        The round models: ``round``, ``bureau``, ``own_auc``.

    Returns
    -------
    pandas.DataFrame
        ``round``, ``bureau``, ``scored`` (applications it gave a PD, outcome known),
        ``auc_through_the_door`` (against every scored applicant's true outcome, the declined
        ones' counterfactual), ``booked`` and ``auc_booked`` (the approved only), and
        ``auc_reported`` (on its own development sample, labelled by what it was told).
    """
    truth = pd.DataFrame(
        {
            "application_id": applications["application_id"].to_numpy(),
            "round": applications["round"].to_numpy(),
            "approved": applications["approved"].to_numpy(dtype=bool),
            "outcome": loan_outcome(applications),
        }
    )
    # Every round and bureau that answered, even where no outcome is known yet.
    scored = answers[answers["pd"].notna()].merge(truth, on="application_id")
    rows = []
    for (start, bureau), group in scored.groupby(["round", "bureau"], sort=True):
        group = group[group["outcome"].notna()]
        bad = group["outcome"].to_numpy() > 0
        pd_ = group["pd"].to_numpy()
        booked = group["approved"].to_numpy()
        rows.append(
            {
                "round": int(start),
                "bureau": bureau,
                "scored": int(bad.size),
                "auc_through_the_door": _auc(bad, pd_),
                "booked": int(booked.sum()),
                "auc_booked": _auc(bad[booked], pd_[booked]),
            }
        )
    table = pd.DataFrame(
        rows,
        columns=["round", "bureau", "scored", "auc_through_the_door", "booked", "auc_booked"],
    )
    if models.empty:
        models = pd.DataFrame(columns=["round", "bureau", "own_auc"])
    reported = models[["round", "bureau"]].assign(auc_reported=models.get("own_auc", np.nan))
    return table.merge(reported, on=["round", "bureau"], how="left")


def pooled_lending(lending: pd.DataFrame, by: str | None = None) -> pd.DataFrame:
    """Lending over several lenders (and rounds): counts summed, rates weighted.

    Parameters
    ----------
    lending
        Rows of the ``lending`` table.
    by
        The column to keep apart (``round``); None pools every row into one.

    Returns
    -------
    pandas.DataFrame
        ``applications``, ``approvals``, ``approval_rate``, ``default_rate_approved``
        (weighted by the approved loans with a known outcome),
        ``counterfactual_default_rate_declined`` (weighted by the declined) and ``margin``
        (summed; NaN where no row has one), indexed by ``by`` (by 0 when None).
    """
    approved = lending["approved_known"].to_numpy(dtype=float)
    declined = (lending["applications"] - lending["approvals"]).to_numpy(dtype=float)
    frame = pd.DataFrame(
        {
            "key": lending[by].to_numpy() if by else np.zeros(len(lending), dtype=np.int64),
            "applications": lending["applications"].to_numpy(dtype=float),
            "approvals": lending["approvals"].to_numpy(dtype=float),
            "margin": lending["margin"].to_numpy(dtype=float),
        }
    )
    rates = {}
    for metric, weights in (
        ("default_rate_approved", approved),
        ("counterfactual_default_rate_declined", declined),
    ):
        values = lending[metric].to_numpy(dtype=float)
        known = ~np.isnan(values)
        frame[f"{metric}_sum"] = np.where(known, values * weights, 0.0)
        frame[f"{metric}_weight"] = np.where(known, weights, 0.0)
        rates[metric] = (f"{metric}_sum", f"{metric}_weight")
    grouped = frame.groupby("key", sort=True)
    pooled = grouped[[c for c in frame.columns if c not in ("key", "margin")]].sum()
    pooled["margin"] = grouped["margin"].sum(min_count=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        pooled["approval_rate"] = pooled["approvals"] / pooled["applications"]
        for metric, (total, weight) in rates.items():
            pooled[metric] = np.where(
                pooled[weight] > 0, pooled[total] / pooled[weight].where(pooled[weight] > 0), np.nan
            )
    columns = ["applications", "approvals", "approval_rate", *rates, "margin"]
    return pooled[columns].rename_axis(by or "all")


def market_metrics(
    lending: pd.DataFrame, shares: pd.DataFrame, access: pd.DataFrame
) -> pd.DataFrame:
    """A run's market in a few figures over every round after the market opened.

    Parameters
    ----------
    lending, shares, access
        The run's ``lending``, ``market_share`` and ``credit_access`` tables.

    Returns
    -------
    pandas.DataFrame
        ``view``, ``metric``, ``value``: for the view ``lending``, ``approval_rate``,
        ``default_rate_approved``, ``counterfactual_default_rate_declined`` (each weighted by
        applications) and ``margin`` (yuan, summed); per bureau, ``market_share`` (of every
        inquiry of those rounds); for the view ``access``, ``approval_rate:<attribute>=<group>``
        and ``default_rate:<attribute>=<group>``.
    """
    market = lending[lending["round"] > 0]
    rows = []
    if float(market["applications"].sum()):
        pooled = pooled_lending(market).iloc[0]
        for metric in (
            "default_rate_approved",
            "counterfactual_default_rate_declined",
            "approval_rate",
            "margin",
        ):
            rows.append(("lending", metric, float(pooled[metric])))
    asked = shares[shares["round"] > 0].groupby("bureau")["inquiries"].sum()
    if asked.sum() > 0:
        rows += [(b, "market_share", float(v / asked.sum())) for b, v in asked.items()]
    grouped = access[access["round"] > 0].assign(
        approvals=lambda t: t["approval_rate"] * t["applications"],
        bad=lambda t: t["default_rate"].fillna(0.0) * t["approved_known"],
    )
    for (attribute, group), part in grouped.groupby(["attribute", "group"], sort=True):
        n, seen = part["applications"].sum(), part["approved_known"].sum()
        label = f"{attribute}={group}"
        rows.append(("access", f"approval_rate:{label}", float(part["approvals"].sum() / n)))
        if seen:
            rows.append(("access", f"default_rate:{label}", float(part["bad"].sum() / seen)))
    return pd.DataFrame(rows, columns=["view", "metric", "value"])
