"""``bureau train`` and ``bureau score``: the bureaus' models, and batch scoring with them."""

from __future__ import annotations

from rich.table import Table

from bureau.cli.common import (
    AsJson,
    Quiet,
    Workers,
    console,
    default_workers,
    handle_errors,
    print_json,
    progress_bars,
    relative,
)
from bureau.cli.stages import BureauOption, DbOption, RunArg
from bureau.pipeline import run_stage

DEFAULT_WORKERS = default_workers()


def _metric(value: object) -> str:
    return "-" if value is None or value != value else f"{value:.3f}"


@handle_errors
def train(
    run: RunArg,
    bureau: BureauOption = None,
    db: DbOption = None,
    workers: Workers = DEFAULT_WORKERS,
    quiet: Quiet = False,
    as_json: AsJson = False,
) -> None:
    """Train each bureau's model on its own credit file and score its consumers.

    Writes RUN/models/<bureau>/ (model and model_card.json), RUN/scores/<bureau>.parquet
    and RUN/report/model_performance.csv. Bureaus already trained are skipped.
    """
    with progress_bars(quiet or as_json) as progress:
        report = run_stage(
            run, "train", workers=workers, progress=progress, db_url=db, bureaus=bureau
        )
    where = relative(run)
    if report.skipped:
        if as_json:
            print_json({"run": where, "skipped": True, "scored": report.rows})
        else:
            console.print(f"models already trained in {where}/models/; nothing to do")
        return
    table = report.detail
    if as_json:
        print_json(
            {"run": where, "seconds": report.seconds, "bureaus": table.to_dict(orient="records")}
        )
        return
    if not quiet:
        view = Table(title="models: in time, out of time (observed), out of time (truth)")
        columns = {
            "AUC in": "development_auc",
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
        f"models in {where}/models/, scores in {where}/scores/ ({report.seconds:.1f} s)",
        highlight=False,
        soft_wrap=True,
    )
