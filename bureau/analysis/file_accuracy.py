"""How right each bureau's credit files are: coverage and errors measured against the truth.

Every record a bureau loaded keeps its provenance (feed file and line), and the truth knows
whose each furnished line was and which world row it came from. That links every consumer file
back to the persons behind it, exactly, without the bureau ever seeing a truth key:

- coverage: adults with a file, with a thin file (fewer than 2 tradelines), invisible;
- files with at least one material error: a wrong delinquency status in any month shown,
  another person's account, a missing account (furnished to the bureau but not on the
  owner's file), or a wrongful public record;
- fragmented persons (records spread over several files) and mixed files (one file holding
  several persons' records);
- records rejected, by validation rule;
- consumers, rather than files: the share of the persons with a file who have a material error
  in it, at each bureau and in at least one of their reports at every bureau (the measure of
  the FTC's 2012 study, which drew all three reports of each participant).

The stage hands the truth in as tables (:mod:`bureau.pipeline.truth`); :func:`read_provenance`
reads what the bureau holds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select

from bureau.analysis.provenance import TRUTH_COLUMNS, trace
from bureau.store.bulk import read_frame
from bureau.store.credit_file import (
    Consumer,
    Inquiry,
    PublicRecord,
    Reject,
    Tradeline,
)
from bureau.store.reports import monthly_reports

STATUS_CODES = np.array(["N", "1", "2", "3", "4", "W", "C"])

ACCURACY_COLUMNS = (
    "bureau",
    "adults",
    "with_file",
    "coverage",
    "thin_file",
    "invisible",
    "files",
    "files_with_material_error",
    "material_error_rate",
    "wrong_status",
    "other_persons_account",
    "missing_account",
    "wrongful_public_record",
    "fragmented_persons",
    "mixed_files",
    "records_rejected",
)
CONSUMER_ERROR_COLUMNS = ("reports", "consumers", "with_error", "error_rate")
#: The ``reports`` of the consumers with a file at every bureau, in :func:`consumer_errors`.
EVERY_BUREAU = "all"
#: The columns of a bureau's furnished truth that :func:`assess_bureau` needs.
ACCURACY_TRUTH_COLUMNS = (*TRUTH_COLUMNS, "record_type")


def read_provenance(engine: Engine) -> dict[str, pd.DataFrame]:
    """What :func:`assess_bureau` reads of a bureau's files: every record and its provenance.

    Parameters
    ----------
    engine
        The bureau's database.

    Returns
    -------
    dict of pandas.DataFrame
        ``consumers``, ``tradelines``, ``inquiries``, ``public_records`` (each with
        ``source_file`` and ``source_line``), ``rejects`` and ``tradeline_months``.
    """
    statements = {
        "consumers": select(Consumer.consumer_id, Consumer.source_file, Consumer.source_line),
        "tradelines": select(
            Tradeline.tradeline_id,
            Tradeline.consumer_id,
            Tradeline.status,
            Tradeline.last_month,
            Tradeline.source_file,
            Tradeline.source_line,
        ),
        "inquiries": select(Inquiry.consumer_id, Inquiry.source_file, Inquiry.source_line),
        "public_records": select(
            PublicRecord.consumer_id, PublicRecord.source_file, PublicRecord.source_line
        ),
        "rejects": select(Reject.rule_id, Reject.action, Reject.file, Reject.line),
    }
    with engine.connect() as conn:
        held = {name: read_frame(conn, statement) for name, statement in statements.items()}
        held["tradeline_months"] = monthly_reports(conn, None, ("tradeline_id", "month", "status"))
    return held


def assess_bureau(
    bureau: str,
    held: dict[str, pd.DataFrame],
    truth: pd.DataFrame,
    persons: pd.DataFrame,
    adults: int,
    account_months: pd.Series,
    wrongful_world: set[int],
) -> tuple[dict[str, object], pd.DataFrame, pd.DataFrame]:
    """Measure one bureau's files against the truth.

    Parameters
    ----------
    bureau
        The bureau.
    held
        Its files (:func:`read_provenance`).
    truth
        Its furnished truth (:data:`ACCURACY_TRUTH_COLUMNS`).
    persons
        The world's persons (``person_id``) whose identities were furnished to the bureau, at
        least: no other can have a file there.
    adults
        The number of persons in the world, of whom the shares with a file are taken.
    account_months
        The world's status code per ``(account_id, month)``, for the accounts furnished to
        the bureau at least.
    wrongful_world
        World public record ids that are wrongful (those furnished to the bureau at least).

    Returns
    -------
    tuple
        One row of :data:`ACCURACY_COLUMNS` as a dict, the rejected records by rule
        (``bureau``, ``rule_id``, ``action``, ``records``), and the persons who own a file
        (``person_id``, ``material_error``: one of their files has one), for
        :func:`consumer_errors`.
    """
    tradelines = trace(held["tradelines"], truth)
    links = pd.concat(
        [
            trace(held[name], truth)[["consumer_id", "person_id"]]
            for name in ("consumers", "tradelines", "inquiries", "public_records")
        ],
        ignore_index=True,
    )
    links = links[links["person_id"] >= 0].drop_duplicates()
    # A file belongs to the person whose identity the record that created it carried (for a
    # wrongful public record, the person it was filed against).
    owner = trace(held["consumers"], truth).set_index("consumer_id")["identity_of"]

    persons_of_file = links.groupby("consumer_id")["person_id"].nunique()
    files_of_person = links.groupby("person_id")["consumer_id"].nunique()
    tradelines_of_person = (
        tradelines.assign(owner=owner.reindex(tradelines["consumer_id"]).to_numpy())
        .groupby("owner")
        .size()
    )
    # Only persons furnished to the bureau can have a file there; the shares are of all adults.
    candidates = persons["person_id"]
    with_file = candidates.isin(owner.to_numpy())
    thin = with_file & (tradelines_of_person.reindex(candidates).fillna(0).to_numpy() < 2)

    def share(count: int) -> float:
        return count / adults if adults else float("nan")

    # Errors, file by file. A status is wrong wherever a month the file shows differs from
    # the world's status of that account in that month.
    tl = tradelines.assign(owner=owner.reindex(tradelines["consumer_id"]).to_numpy())
    shown = held["tradeline_months"].merge(
        tl[["tradeline_id", "consumer_id", "truth_key"]], on="tradeline_id"
    )
    truth_code = account_months.reindex(
        pd.MultiIndex.from_arrays([shown["truth_key"].to_numpy(), shown["month"].to_numpy()])
    ).to_numpy()
    known = ~np.isnan(truth_code)
    wrong = np.zeros(len(shown), dtype=bool)
    wrong[known] = STATUS_CODES[truth_code[known].astype(int)] != shown["status"].to_numpy()[known]
    others = tl["person_id"].notna() & (tl["person_id"] != tl["owner"])
    error_files = {
        "wrong_status": set(shown.loc[wrong, "consumer_id"]),
        "other_persons_account": set(tl.loc[others.to_numpy(), "consumer_id"]),
    }

    # A file misses an account of its owner that was furnished to the bureau but is not on it:
    # rejected, or attached to another file (of the owner, or of someone else).
    furnished_accounts = truth[(truth["record_type"] == "tradeline") & (truth["person_id"] >= 0)][
        ["person_id", "truth_key"]
    ].drop_duplicates()
    expected = owner.rename("person_id").reset_index().merge(furnished_accounts, on="person_id")
    present = tl[["consumer_id", "truth_key"]].drop_duplicates()
    missing = expected.merge(present, on=["consumer_id", "truth_key"], how="left", indicator=True)
    error_files["missing_account"] = set(
        missing.loc[missing["_merge"] == "left_only", "consumer_id"]
    )

    pr = trace(held["public_records"], truth)
    pr["owner"] = owner.reindex(pr["consumer_id"]).to_numpy()
    wrongful = (
        (pr["defect"] == "wrongful_record")
        | (pr["person_id"] != pr["owner"])
        | pr["truth_key"].isin(wrongful_world)
    )
    error_files["wrongful_public_record"] = set(pr.loc[wrongful.to_numpy(), "consumer_id"])
    any_error = set().union(*error_files.values())

    rejects = held["rejects"]
    refused = rejects[rejects["action"] == "rejected"]
    by_rule = (
        rejects.groupby(["rule_id", "action"])
        .size()
        .rename("records")
        .reset_index()
        .assign(bureau=bureau)
    )
    files = len(held["consumers"])
    row = {
        "bureau": bureau,
        "adults": adults,
        "with_file": int(with_file.sum()),
        "coverage": share(int(with_file.sum())),
        "thin_file": share(int(thin.sum())),
        "invisible": 1 - share(int(with_file.sum())),
        "files": files,
        "files_with_material_error": len(any_error),
        "material_error_rate": len(any_error) / files if files else 0.0,
        **{name: len(ids) for name, ids in error_files.items()},
        "fragmented_persons": int((files_of_person > 1).sum()),
        "mixed_files": int((persons_of_file > 1).sum()),
        "records_rejected": int(refused[["file", "line"]].drop_duplicates().shape[0]),
    }
    owners = owner[owner >= 0]
    consumers = (
        pd.DataFrame(
            {
                "person_id": owners.to_numpy(),
                "material_error": owners.index.isin(list(any_error)),
            }
        )
        .groupby("person_id", sort=True)["material_error"]
        .any()
        .reset_index()
    )
    return row, by_rule[["bureau", "rule_id", "action", "records"]], consumers


def consumer_errors(owners: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """How many consumers, rather than files, have a material error in their reports.

    Parameters
    ----------
    owners
        Each bureau's persons with a file there (``person_id``, ``material_error``), as
        :func:`assess_bureau` gives them.

    Returns
    -------
    pandas.DataFrame
        :data:`CONSUMER_ERROR_COLUMNS`: one row per bureau (``reports`` its name), then one
        (``reports`` :data:`EVERY_BUREAU`) of the persons with a file at every bureau, of
        whom ``with_error`` have a material error in at least one of those files.
    """

    def row(reports: str, errors: pd.Series) -> dict[str, object]:
        return {
            "reports": reports,
            "consumers": len(errors),
            "with_error": int(errors.sum()),
            "error_rate": float(errors.mean()) if len(errors) else float("nan"),
        }

    rows = [row(b, frame["material_error"]) for b, frame in sorted(owners.items())]
    if owners:
        # A person counts once with a file at every bureau; an error at any of them counts.
        every = pd.concat(owners.values(), ignore_index=True).groupby("person_id")
        held = every["material_error"].agg(["size", "any"])
        rows.append(row(EVERY_BUREAU, held.loc[held["size"] == len(owners), "any"]))
    return pd.DataFrame(rows, columns=list(CONSUMER_ERROR_COLUMNS))
