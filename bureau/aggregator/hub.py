"""The aggregator as the market's hub: one score from its member bureaus' answers.

Where the sharing regime lets lenders reach the central body, a lender may buy the
aggregator's score instead of a bureau's. The aggregator forwards the applicant, by identity,
to every member bureau and answers with one probability of default: a logistic regression over
the bureaus' log-odds and whether each has a file (as the consensus of the scoring snapshots
is, :mod:`bureau.aggregator.consensus`), refitted at each round start on the inquiries it
forwarded before, labelled by the defaults the member bureaus have reported on those
applicants since. Until it has seen enough defaults to learn how far to trust each bureau, it
trusts them alike: the mean log-odds of the bureaus with a file.

It sees the bureaus' answers and reports only: never a lender's book, never the truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from bureau.aggregator.consensus import ConsensusModel, fit_consensus, log_odds

#: The hub learns its weights once it has this many defaults and this many good applicants.
MIN_CLASS = 10


def hub_features(pds: pd.DataFrame, bureaus: list[str]) -> pd.DataFrame:
    """The hub's inputs for each application: each member bureau's log-odds and file flag.

    Parameters
    ----------
    pds
        Applications (index) by bureaus (columns): each bureau's PD, NaN where it had no file.
    bureaus
        The member bureaus, fixed, so that the columns do not depend on the data.

    Returns
    -------
    pandas.DataFrame
        Same index: ``logit_<bureau>`` (0 without a file: any fixed value serves, the flag
        carries the difference), ``has_<bureau>``, ``bureaus_with_file`` and ``in_default``
        (False: the hub is not told whether an applicant is in default).
    """
    columns: dict[str, np.ndarray] = {}
    count = np.zeros(len(pds))
    for bureau in bureaus:
        values = pds[bureau].to_numpy(dtype=float) if bureau in pds else np.full(len(pds), np.nan)
        has = ~np.isnan(values)
        columns[f"logit_{bureau}"] = np.where(has, log_odds(np.nan_to_num(values, nan=0.5)), 0.0)
        columns[f"has_{bureau}"] = has.astype(float)
        count += has
    frame = pd.DataFrame(columns, index=pds.index)
    frame["bureaus_with_file"] = count
    frame["in_default"] = False
    return frame


@dataclass(frozen=True)
class HubModel:
    """The hub's model of a round: fitted weights, or none yet (every bureau alike).

    Attributes
    ----------
    bureaus
        The member bureaus.
    fitted
        The logistic regression, or None before the hub has :data:`MIN_CLASS` defaults and
        good applicants to learn from.
    rows, bad_rate
        The inquiries it learned from (0 and NaN when it had none).
    """

    bureaus: list[str]
    fitted: ConsensusModel | None
    rows: int
    bad_rate: float

    def predict(self, pds: pd.DataFrame) -> np.ndarray:
        """The hub's PD of each application.

        Parameters
        ----------
        pds
            Applications by bureaus, as :func:`hub_features` takes them.

        Returns
        -------
        numpy.ndarray
            One PD per application; NaN where no member bureau had a file.
        """
        features = hub_features(pds, self.bureaus)
        has = features["bureaus_with_file"].to_numpy() > 0
        if self.fitted is not None:
            found = self.fitted.predict(features)
        else:
            logits = features[[f"logit_{b}" for b in self.bureaus]].to_numpy()
            mean = logits.sum(axis=1) / np.maximum(features["bureaus_with_file"].to_numpy(), 1)
            found = 1.0 / (1.0 + np.exp(-mean))
        return np.where(has, found, np.nan)

    def to_dict(self) -> dict[str, Any]:
        """The model as plain JSON-ready data.

        Returns
        -------
        dict
            ``bureaus``, ``rows``, ``bad_rate`` and ``fitted`` (the regression's
            :meth:`~bureau.aggregator.consensus.ConsensusModel.to_dict`, or None).
        """
        return {
            "bureaus": list(self.bureaus),
            "rows": self.rows,
            "bad_rate": self.bad_rate,
            "fitted": None if self.fitted is None else self.fitted.to_dict(),
        }


def fit_hub(pds: pd.DataFrame, bad: np.ndarray, bureaus: list[str]) -> HubModel:
    """Fit the hub on the inquiries it forwarded before and what the bureaus reported since.

    Parameters
    ----------
    pds
        The earlier applications (index) by bureaus: each bureau's PD as it answered then.
    bad
        Whether any member bureau has since reported the applicant in default, one per row
        of ``pds``.
    bureaus
        The member bureaus.

    Returns
    -------
    HubModel
        Fitted when the sample has at least :data:`MIN_CLASS` defaults and as many goods;
        otherwise the equal-weights hub.
    """
    features = hub_features(pds, bureaus)
    # An applicant no bureau knew gets no score whatever the weights: it teaches nothing.
    known = features["bureaus_with_file"].to_numpy() > 0
    bad = np.asarray(bad, dtype=bool)[known]
    rate = float(bad.mean()) if len(bad) else float("nan")
    if bad.sum() < MIN_CLASS or (~bad).sum() < MIN_CLASS:
        return HubModel(list(bureaus), None, len(bad), rate)
    return HubModel(list(bureaus), fit_consensus(features[known], bad), len(bad), rate)
