"""``bureau train`` and ``bureau score``: the bureaus' models, and batch scoring with them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, cast

import typer
from rich.table import Table

from bureau.bureaus.batch_features import score_feature_table
from bureau.bureaus.models.artifacts import load_model
from bureau.cli.common import (
    AsJson,
    Quiet,
    Scheduler,
    UsageError,
    Workers,
    console,
    default_workers,
    err_console,
    handle_errors,
    print_json,
    progress_bars,
    relative,
)
from bureau.cli.stages import BureauOption, DbOption, RunArg, stage_command
from bureau.pipeline import TablesResult, score_file

DEFAULT_WORKERS = default_workers()
DEFAULT_OUTPUT = Path("scores.csv")


def _metric(value: object) -> str:
    return "-" if value is None or value != value else f"{value:.3f}"


@handle_errors
def train(
    run: RunArg,
    bureau: BureauOption = None,
    db: DbOption = None,
    workers: Workers = DEFAULT_WORKERS,
    scheduler: Scheduler = None,
    quiet: Quiet = False,
    as_json: AsJson = False,
) -> None:
    """Train each bureau's model on its own credit file and score its consumers.

    Writes RUN/models/<bureau>/ (model and model_card.json), RUN/scores/<bureau>.parquet
    and RUN/report/model_performance.csv. Bureaus already trained are skipped.
    """
    with progress_bars(quiet or as_json) as progress:
        outcome = stage_command(
            run, "train", workers=workers, progress=progress, db_url=db, bureaus=bureau
        )
    where = relative(run)
    if outcome.skipped:
        if as_json:
            print_json({"run": where, "skipped": True, "scored": outcome.rows})
        else:
            console.print(f"models already trained in {where}/models/; nothing to do")
        return
    # Not skipped: the stage ran, and returned its tables.
    table = cast(TablesResult, outcome.result).tables["model_performance"]
    if as_json:
        print_json(
            {"run": where, "seconds": outcome.seconds, "bureaus": table.to_dict(orient="records")}
        )
        return
    if not quiet:
        view = Table(title="models: in time, out of time (observed), out of time (truth)")
        columns = {
            "AUC in": "development_auc",
            "KS in": "development_ks",
            "Gini in": "development_gini",
            "AUC": "out_of_time_auc",
            "KS": "out_of_time_ks",
            "Gini": "out_of_time_gini",
            "AUC truth": "out_of_time_truth_auc",
        }
        view.add_column("bureau")
        view.add_column("model")
        for column in (*columns, "scored"):
            view.add_column(column, justify="right")
        for row in table.to_dict(orient="records"):
            if row["status"] != "trained":
                view.add_row(row["bureau"], row["model"], "not trained: " + row["status"])
                continue
            cells = [_metric(row[key]) for key in columns.values()]
            view.add_row(row["bureau"], row["model"], *cells, f"{int(row['out_of_time_rows']):,}")
        console.print(view)
    console.print(
        f"models in {where}/models/, scores in {where}/scores/ ({outcome.seconds:.1f} s)",
        highlight=False,
        soft_wrap=True,
    )


def _check_combination(
    run: Path | None, model: Path | None, features: Path | None, given: dict[str, bool]
) -> None:
    """Check that ``bureau score``'s options go together: applicants, or a feature table.

    Parameters
    ----------
    run, model, features
        The values given.
    given
        Option -> whether it was given, for the options only scoring applicants takes.

    Raises
    ------
    UsageError
        Naming the options that are missing or do not belong.
    """
    table = model is not None or features is not None
    if run is not None and table:
        raise UsageError(
            "give either RUN with --bureau and --input, or --model with --features, not both"
        )
    if table:
        if model is None or features is None:
            lacking = "--model" if model is None else "--features"
            raise UsageError(f"--model and --features go together: add {lacking}")
        extra = [option for option, was in given.items() if was]
        if extra:
            raise UsageError(
                f"{', '.join(extra)}: only for scoring applicants with RUN, not a feature table"
                " with --model and --features"
            )
        return
    if run is None:
        raise UsageError(
            "give RUN with --bureau and --input (applicants), or --model with --features"
            " (a feature table)"
        )
    missing = [option for option in ("--bureau", "--input") if not given[option]]
    if missing:
        raise UsageError(f"scoring applicants with RUN needs {' and '.join(missing)}")


@handle_errors
def score(
    run: Annotated[
        Path | None, typer.Argument(help="A trained run (omit with --model and --features).")
    ] = None,
    bureau: Annotated[
        str | None, typer.Option("--bureau", "-b", help="The bureau whose files and model score.")
    ] = None,
    input_path: Annotated[
        Path | None,
        typer.Option(
            "--input",
            "-i",
            help="Applicants (.csv UTF-8 or .parquet): national_id, name, birth_date "
            "(YYYY-MM-DD), phone, optional applicant_id.",
        ),
    ] = None,
    model: Annotated[
        Path | None,
        typer.Option("--model", help="A model directory (e.g. models/sesame), with --features."),
    ] = None,
    features: Annotated[
        Path | None,
        typer.Option(
            "--features", help="A feature table (.csv or .parquet) to score with --model."
        ),
    ] = None,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the scores (.csv or .parquet).")
    ] = DEFAULT_OUTPUT,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Score the files as of this month (YYYY-MM) [default: last]."),
    ] = None,
    db: DbOption = None,
    inquiries: Annotated[
        bool,
        typer.Option(
            "--record-inquiries/--no-record-inquiries",
            help="Record an inquiry in the bureau's file for each consumer scored.",
        ),
    ] = True,
    workers: Workers = DEFAULT_WORKERS,
    scheduler: Scheduler = None,
    quiet: Quiet = False,
    as_json: AsJson = False,
) -> None:
    """Score a file in batch: applicants by identity with a run's bureau, or a feature table.

    With RUN --bureau ID --input FILE, each applicant is matched to the bureau's files
    (matched / no_file / ambiguous) and scored as of --as-of. With --model DIR --features FILE,
    each row of features is scored directly, its chunks spread over --workers processes (or
    the --scheduler's cluster); applicants are matched in this process, against an index of
    the bureau's files built once. Invalid rows go to OUTPUT.rejects.csv with the row, column
    and reason; the valid rows are scored. Exit status 2 when nothing could be.
    """
    given = {
        "--bureau": bureau is not None,
        "--input": input_path is not None,
        "--as-of": as_of is not None,
        "--db": db is not None,
        "--no-record-inquiries": not inquiries,
    }
    _check_combination(run, model, features, given)
    with progress_bars(quiet or as_json) as progress:
        update = lambda done, total: progress("score", done, total)  # noqa: E731
        if model is not None and features is not None:
            summary = score_feature_table(
                load_model(model), features, output, workers=workers, progress=update
            )
        elif run is not None and bureau is not None and input_path is not None:
            summary = score_file(
                run,
                bureau,
                input_path,
                output,
                as_of=as_of,
                db_url=db,
                record_inquiries=inquiries,
                progress=update,
            )
        else:  # refused by _check_combination already
            raise UsageError("give RUN with --bureau and --input, or --model with --features")
    for warning in summary.warnings:
        err_console.print(f"warning: {warning}", markup=False, highlight=False, soft_wrap=True)
    counts = {
        "rows": summary.rows,
        "matched": summary.matched,
        "no_file": summary.no_file,
        "ambiguous": summary.ambiguous,
        "scored": summary.scored,
        "rejected": summary.rejected,
        "inquiries_recorded": summary.inquiries,
    }
    if features is not None:
        counts = {k: counts[k] for k in ("rows", "scored", "rejected")}
    if as_json:
        print_json(
            {
                **counts,
                "output": relative(summary.output) if summary.output else None,
                "rejects": relative(summary.rejects) if summary.rejects else None,
            }
        )
        return
    if not quiet:
        view = Table(title="batch scoring")
        view.add_column("")
        view.add_column("count", justify="right")
        for key, value in counts.items():
            view.add_row(key.replace("_", " "), f"{value:,}")
        console.print(view)
    where = f"scores in {relative(summary.output)}"
    if summary.rejects:
        where += f"; rejected rows in {relative(summary.rejects)}"
    console.print(where, markup=False, highlight=False, soft_wrap=True)
