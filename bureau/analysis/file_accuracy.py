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
- records rejected, by validation rule.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select

from bureau.analysis.provenance import read_truth, trace
from bureau.store.bulk import read_frame
from bureau.store.credit_file import (
    Consumer,
    Inquiry,
    PublicRecord,
    Reject,
    Tradeline,
)
from bureau.store.parquet import read_table
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


def _provenance(engine: Engine) -> dict[str, pd.DataFrame]:
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
    engine: Engine,
    truth_dir: Path,
    persons: pd.DataFrame,
    account_months: pd.DataFrame,
    world_records: pd.DataFrame,
) -> tuple[dict[str, object], pd.DataFrame]:
    """Measure one bureau's files against the truth.

    Parameters
    ----------
    bureau
        The bureau.
    engine
        Its database.
    truth_dir
        The run's ``truth/`` directory.
    persons
        The world's persons (``person_id``).
    account_months
        The world's ``account_id``, ``month``, ``status``.
    world_records
        The world's public records (``record_id``, ``wrongful``).

    Returns
    -------
    tuple
        One row of :data:`ACCURACY_COLUMNS` as a dict, and the rejected records by rule
        (``bureau``, ``rule_id``, ``action``, ``records``).
    """
    truth = read_truth(truth_dir, bureau, ("record_type",))
    held = _provenance(engine)
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
    adults = persons["person_id"]
    with_file = adults.isin(owner.to_numpy())
    thin = with_file & (tradelines_of_person.reindex(adults).fillna(0).to_numpy() < 2)

    # Errors, file by file. A status is wrong wherever a month the file shows differs from
    # the world's status of that account in that month.
    tl = tradelines.assign(owner=owner.reindex(tradelines["consumer_id"]).to_numpy())
    shown = held["tradeline_months"].merge(
        tl[["tradeline_id", "consumer_id", "truth_key"]], on="tradeline_id"
    )
    true_status = account_months.set_index(["account_id", "month"])["status"]
    truth_code = true_status.reindex(
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
    wrongful_world = set(world_records.loc[world_records["wrongful"], "record_id"])
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
        "adults": len(adults),
        "with_file": int(with_file.sum()),
        "coverage": float(with_file.mean()),
        "thin_file": float(thin.mean()),
        "invisible": float(1 - with_file.mean()),
        "files": files,
        "files_with_material_error": len(any_error),
        "material_error_rate": len(any_error) / files if files else 0.0,
        **{name: len(ids) for name, ids in error_files.items()},
        "fragmented_persons": int((files_of_person > 1).sum()),
        "mixed_files": int((persons_of_file > 1).sum()),
        "records_rejected": int(refused[["file", "line"]].drop_duplicates().shape[0]),
    }
    return row, by_rule[["bureau", "rule_id", "action", "records"]]


def world_inputs(run_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """What :func:`assess_bureau` needs of the world: persons, account months, public records.

    Parameters
    ----------
    run_dir
        The run directory.

    Returns
    -------
    tuple of pandas.DataFrame
        ``person_id``; ``account_id``, ``month``, ``status``; ``record_id``, ``wrongful``.
    """
    world = run_dir / "world"
    return (
        read_table(world / "persons", ["person_id"]),
        read_table(world / "account_months", ["account_id", "month", "status"]),
        read_table(world / "public_records", ["record_id", "wrongful"]),
    )


def assess_files(run_dir: Path, engines: dict[str, Engine]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Measure every bureau's files of a run against the truth.

    Parameters
    ----------
    run_dir
        The run directory (``world/`` and ``truth/``).
    engines
        Each bureau's database.

    Returns
    -------
    tuple of pandas.DataFrame
        One row per bureau (:data:`ACCURACY_COLUMNS`), and rejected records by bureau and rule.
    """
    persons, account_months, world_records = world_inputs(run_dir)
    rows, rules = [], []
    for bureau, engine in sorted(engines.items()):
        row, by_rule = assess_bureau(
            bureau, engine, run_dir / "truth", persons, account_months, world_records
        )
        rows.append(row)
        rules.append(by_rule)
    return pd.DataFrame(rows, columns=list(ACCURACY_COLUMNS)), pd.concat(rules, ignore_index=True)
