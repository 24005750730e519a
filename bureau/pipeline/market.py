"""The market stage: lenders buy bureau scores round after round, and the world answers.

Before the market opens the run is the chain as always: the world, its feeds up to the first
month of the market, and their ingestion. Then each round, from its first month ``s``:

1. every lender runs a retro test on its book and may switch bureaus
   (:mod:`bureau.market.retro`);
2. each bureau fits its model on what it has received so far, and answers for every
   application of the round, sent by identity as the applicant gave it
   (:mod:`bureau.bureaus.inquiries`): the lenders' own bureaus decide, the others' answers
   are what later retro tests weigh;
3. every lender decides with its policy (:mod:`bureau.market.policies`);
4. the world is generated again with every decision so far (what a decision changes draws by
   its own keys, so the months before ``s`` stay the same bytes), the round's months are
   furnished and ingested, and each bureau records the inquiries it answered.

A round's answers and decisions are kept in ``market/round-<s>/`` before the world moves on, so
a run killed in a round resumes it with the same decisions; the round is done once its
inquiries are recorded.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bureau.aggregator.hub import fit_hub
from bureau.analysis.access import applicant_groups, credit_access_table
from bureau.analysis.market import (
    assign_rounds,
    lending_table,
    market_share_table,
    selection_bias_table,
)
from bureau.analysis.metrics import discrimination, rounded
from bureau.bureaus.ingest import ingest_all
from bureau.bureaus.inquiries import (
    record_inquiries,
)
from bureau.config.market import AGGREGATOR, OWN_JUDGMENT
from bureau.config.scenario import Scenario
from bureau.furnish.feeds import IDENTITY_FIELDS, account_ref
from bureau.furnish.stage import furnish_all
from bureau.layout import RunLayout
from bureau.parallel import map_chunks
from bureau.pipeline.contract import StageContext, StageResult
from bureau.pipeline.market_round import (
    SEASONING,
    RoundJob,
    applicants_for,
    lender_decisions,
    pd_matrix,
    retro_tests,
    round_job,
    round_model_file,
    source_prices,
)
from bureau.pipeline.outputs import write_report_tables
from bureau.store.parquet import read_table, write_table
from bureau.world.facts import world_facts
from bureau.world.generate import DECIDED_TABLES, IntentsJob, chunk_intents
from bureau.world.world import write_world

#: The file that marks a round done.
DONE = "done"


def _subscriptions(scn: Scenario, run: RunLayout, rounds: list[int]) -> dict[str, tuple[str, ...]]:
    """Each lender's sources as of the last round done (the scenario's before any)."""
    found: dict[str, tuple[str, ...]] = {}
    for lender_id, lender in scn.lenders.items():
        bureaus = scn.lender_bureaus(lender_id) if lender.policy != OWN_JUDGMENT else []
        if lender.policy == "consensus":
            bureaus = [AGGREGATOR]
        # The worst of several bureaus does not depend on their order: held sorted, as the
        # retro test offers such combinations.
        found[lender_id] = tuple(sorted(bureaus) if lender.policy == "worst_of" else bureaus)
    for start in rounds:
        path = run.market_round(start) / "lenders.parquet"
        if path.exists():
            table = pd.read_parquet(path)
            found.update(
                {
                    r.lender: tuple(r.option.split("+")) if r.option else ()
                    for r in table.itertuples()
                }
            )
    return found


def _kept_models(
    scn: Scenario, run: RunLayout, rounds: list[int]
) -> dict[str, tuple[Path, dict[str, Any]]]:
    """The model each bureau that does not retrain keeps, from the round that fitted it."""
    kept = {}
    for bureau in scn.active_bureaus:
        profile = scn.bureaus[bureau]
        if profile.retrain:
            continue
        for start in rounds:
            path = round_model_file(run, start, bureau, profile.model)
            if path.exists():
                models = pd.read_parquet(run.market_round(start) / "models.parquet")
                row = models[models["bureau"] == bureau].iloc[0].to_dict()
                kept[bureau] = (path, row)
                break
    return kept


def _hub_answers(
    scn: Scenario,
    start: int,
    earlier: pd.DataFrame,
    reported: dict[str, tuple[pd.DataFrame, np.ndarray]],
    now: list[pd.DataFrame],
) -> tuple[list[pd.DataFrame], dict[str, Any]]:
    """The aggregator's answers for the round's applications, from its member bureaus'.

    ``earlier`` holds the bureaus' answers of the earlier rounds, ``reported`` per bureau the
    earlier applications it had a file on and whether it has reported each in default since,
    ``now`` the bureaus' answers to be combined (each with ``application_id``, ``bureau``,
    ``pd``).
    """
    members = scn.active_bureaus
    parts = [pd.Series(f, index=a["application_id"].to_numpy()) for a, f in reported.values()]
    # Bad once any member bureau has reported it so.
    bad = pd.concat(parts).groupby(level=0).any() if parts else pd.Series(dtype=bool)
    history = pd.DataFrame(index=bad.index)
    if len(bad):
        history = pd_matrix(earlier[earlier["bureau"] != AGGREGATOR]).reindex(bad.index)
    flags = bad.to_numpy(dtype=bool)
    model = fit_hub(history, flags, members)
    answers = []
    for frame in now:
        matrix = pd_matrix(frame)
        ids = frame["application_id"].drop_duplicates().to_numpy()
        pd_ = model.predict(matrix.reindex(ids))
        answers.append(
            pd.DataFrame(
                {
                    "application_id": ids,
                    "bureau": AGGREGATOR,
                    "match_status": np.where(np.isnan(pd_), "no_file", "matched"),
                    "consumer_id": np.int64(-1),
                    "pd": pd_,
                }
            )
        )
    row: dict[str, Any] = {
        "round": start,
        "bureau": AGGREGATOR,
        "snapshot": start - 1,
        "fitted": model.fitted is not None,
        "refitted": model.fitted is not None,
        "own_rows": model.rows,
        "own_bad_rate": model.bad_rate,
    }
    if model.fitted is not None:
        seen = model.predict(history)
        known = ~np.isnan(seen)
        quality = rounded(discrimination(flags[known], seen[known]))
        row.update({f"own_{k}": v for k, v in quality.items()})
    return answers, row


def _decide_round(
    ctx: StageContext, start: int, stop: int, persons: pd.DataFrame, rounds: list[int]
) -> None:
    """Retro tests, the bureaus' answers and the lenders' decisions of one round, kept whole."""
    scn, run = ctx.scenario, ctx.layout
    earlier = [s for s in rounds if s < start]
    answers_before = _read_rounds(run, earlier, "answers")
    current = _subscriptions(scn, run, earlier)
    chosen, retro = retro_tests(scn, run, start, answers_before, current)
    jobs = [IntentsJob(scn, chunk, (start, stop)) for chunk in range(scn.chunks)]
    intents = pd.concat(list(map_chunks(chunk_intents, jobs, ctx.workers)), ignore_index=True)
    made = read_table(
        run.world_table("applications"), ["application_id", "person_id", "lender_id", "month"]
    )
    # The applications of the months just before, as made: the sample each lender sets its
    # cut-off on, scored as of the round start as the round's own applicants will be.
    month = made["month"].to_numpy()
    recent = made[(month >= start - scn.market.round_months) & (month < start)]
    recent = recent.assign(lender_id=recent["lender_id"].astype(str)).reset_index(drop=True)
    asked = pd.concat([intents, recent], ignore_index=True)
    bureaus = scn.active_bureaus
    reported = _reported(scn, answers_before, made, start)
    kept = _kept_models(scn, run, earlier)
    round_jobs = [
        RoundJob(
            scn,
            run,
            b,
            start,
            applicants_for(scn, b, asked, persons),
            reported=reported.get(b),
            kept=kept.get(b),
        )
        for b in bureaus
    ]
    answers, models, texts, flags = [], [], {}, {}
    for bureau, found in zip(bureaus, map_chunks(round_job, round_jobs, ctx.workers), strict=True):
        answers.append(
            found.answers.assign(application_id=asked["application_id"].to_numpy(), bureau=bureau)
        )
        models.append(found.row)
        if found.model_text is not None:
            texts[bureau] = found.model_text
        if bureau in reported:
            flags[bureau] = (reported[bureau], found.reported)
    both = pd.concat(answers, ignore_index=True)
    of_round = np.tile(np.arange(len(asked)) < len(intents), len(bureaus))
    answered, calibration = both[of_round], both[~of_round]
    if scn.consensus_offered:
        (hub_now, hub_before), hub_row = _hub_answers(
            scn, start, answers_before, flags, [answered, calibration]
        )
        answered = pd.concat([answered, hub_now], ignore_index=True)
        calibration = pd.concat([calibration, hub_before], ignore_index=True)
        models.append(hub_row)
    decisions, lenders = lender_decisions(
        scn, start, intents, answered, chosen, calibration, recent
    )
    lenders["switched"] = [chosen[r] != current[r] for r in lenders["lender"]]
    staging = Path(tempfile.mkdtemp(prefix=".round.", dir=run.root))
    try:
        tables = {
            "intents": intents,
            "answers": answered[["application_id", "bureau", "match_status", "consumer_id", "pd"]],
            "calibration": calibration[["application_id", "bureau", "match_status", "pd"]],
            "decisions": decisions,
            "lenders": lenders,
            "models": pd.DataFrame(models),
            "retro": retro,
        }
        for name, frame in tables.items():
            write_table(frame, staging / f"{name}.parquet")
        target = run.market_round(start)
        for bureau, text in texts.items():
            # Written where the round will be, then moved with it.
            path = staging / round_model_file(
                run, start, bureau, scn.bureaus[bureau].model
            ).relative_to(target)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _reported(
    scn: Scenario, answers: pd.DataFrame, made: pd.DataFrame, start: int
) -> dict[str, pd.DataFrame]:
    """Per bureau, the seasoned earlier applicants it had a file on (where a hub asks)."""
    if not scn.consensus_offered or answers.empty:
        return {}
    month = made.set_index("application_id")["month"]
    found = answers[(answers["consumer_id"].to_numpy() >= 0) & (answers["bureau"] != AGGREGATOR)]
    found = found.assign(month=month.reindex(found["application_id"].to_numpy()).to_numpy())
    found = found[found["month"].to_numpy() <= start - SEASONING]
    return {
        bureau: found.loc[
            found["bureau"] == bureau, ["application_id", "consumer_id", "month"]
        ].reset_index(drop=True)
        for bureau in scn.active_bureaus
    }


def _read_rounds(run: RunLayout, rounds: list[int], name: str) -> pd.DataFrame:
    """One table of several rounds, one after the other."""
    frames = [pd.read_parquet(run.market_round(s) / f"{name}.parquet") for s in rounds]
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _record_round(
    scn: Scenario, run: RunLayout, start: int, stop: int, bureaus: list[str] | None = None
) -> dict[str, int]:
    """Record in each bureau's files the inquiries its subscribers made in the round."""
    folder = run.market_round(start)
    answers = pd.read_parquet(folder / "answers.parquet")
    lenders = pd.read_parquet(folder / "lenders.parquet")
    apps = read_table(
        run.world_table("applications"),
        ["application_id", "lender_id", "product", "month", "approved"],
    )
    month = apps["month"].to_numpy()
    apps = apps[(month >= start) & (month < stop)]
    counts = {}
    for bureau in scn.active_bureaus if bureaus is None else bureaus:
        # The hub forwards its buyers' inquiries to every member bureau, which records them.
        buyers = [
            r.lender
            for r in lenders.itertuples()
            if {bureau, AGGREGATOR} & set(r.option.split("+"))
        ]
        asked = apps[apps["lender_id"].isin(buyers).to_numpy()]
        mine = answers[answers["bureau"] == bureau].set_index("application_id")
        consumer = mine["consumer_id"].reindex(asked["application_id"].to_numpy()).to_numpy()
        found = consumer >= 0
        asked = asked[found]
        lender = asked["lender_id"].astype(str).to_numpy()
        refs = np.empty(len(asked), dtype=object)
        for lid in np.unique(lender):
            # The lender's own reference of the application, as in the inquiries it reported.
            at = lender == lid
            refs[at] = np.char.add("M", account_ref(lid, asked["application_id"].to_numpy()[at]))
        frame = pd.DataFrame(
            {
                "consumer_id": consumer[found].astype(np.int64),
                "furnisher": lender,
                "inquiry_ref": refs,
                "product": asked["product"].astype(str).to_numpy(),
                "month": asked["month"].to_numpy().astype(np.int64),
                "approved": asked["approved"].to_numpy(),
            }
        )
        with run.bureau_database(bureau) as engine:
            counts[f"{bureau}.inquiries"] = record_inquiries(engine, frame)
    return counts


def record_market_inquiries(
    scn: Scenario, run: RunLayout, bureaus: list[str] | None = None
) -> dict[str, int]:
    """Record again, in every bureau's files, the inquiries it answered in the market.

    The bureaus record these themselves, in their files, not in their feeds: credit files
    loaded again from the feeds (on another database, say) get them back this way. Recording
    them where they are already held changes nothing.

    Parameters
    ----------
    scn
        The scenario.
    run
        The run, with its market's rounds done, and the databases to record into.
    bureaus
        The bureaus whose files to record into (every enabled bureau when None).

    Returns
    -------
    dict of str to int
        Inquiries recorded per round and bureau.
    """
    counts: dict[str, int] = {}
    for start in scn.market_rounds:
        if (run.market_round(start) / DONE).exists():
            stop = min(start + scn.market.round_months, scn.months)
            found = _record_round(scn, run, start, stop, bureaus)
            counts.update({f"round_{start}.{k}": v for k, v in found.items()})
    return counts


def market_stage(ctx: StageContext) -> StageResult:
    """Run the market's rounds that are not done (the ``market`` stage).

    Parameters
    ----------
    ctx
        The run and how to run.

    Returns
    -------
    StageResult
        Per round, applications decided with scores and inquiries recorded; unchanged when
        the scenario has no market or every round was done.
    """
    scn, run = ctx.scenario, ctx.layout
    rounds = scn.market_rounds
    progress = ctx.progress_of("market")
    if not rounds:
        # Lending is still measured, over the same windows, with every decision the lenders' own.
        tables = market_tables(scn, run)
        write_report_tables(run, tables)
        return StageResult({name: len(frame) for name, frame in tables.items()})
    persons = read_table(
        run.world_table("persons"), ["person_id", *IDENTITY_FIELDS, "birth_date"]
    ).set_index("person_id")
    rows: dict[str, int] = {}
    changed = False
    progress(0, len(rounds))
    for done, start in enumerate(rounds, start=1):
        stop = min(start + scn.market.round_months, scn.months)
        folder = run.market_round(start)
        if (folder / DONE).exists():
            # Credit files loaded again from the feeds lack the inquiries the bureaus
            # recorded themselves: recording them again restores them, and changes nothing
            # in files that have them.
            _record_round(scn, run, start, stop)
            progress(done, len(rounds))
            continue
        changed = True
        if not (folder / "decisions.parquet").exists():
            _decide_round(ctx, start, stop, persons, rounds)
        decided = _read_rounds(run, [s for s in rounds if s <= start], "decisions")
        write_world(
            scn,
            run.world,
            ctx.workers,
            decisions=decided if len(decided) else None,
            tables=DECIDED_TABLES,
        )
        furnish_all(scn, run, ctx.workers, months=(start, stop))
        ingest_all(scn, run, workers=ctx.workers)
        counts = _record_round(scn, run, start, stop)
        counts["decided"] = len(pd.read_parquet(folder / "decisions.parquet"))
        rows.update({f"round_{start}.{k}": v for k, v in counts.items()})
        (folder / DONE).write_text(json.dumps(counts, sort_keys=True) + "\n", encoding="utf-8")
        progress(done, len(rounds))
    tables = market_tables(scn, run)
    write_report_tables(run, tables)
    rows.update({name: len(frame) for name, frame in tables.items()})
    return StageResult(rows, changed=changed)


def market_tables(scn: Scenario, run: RunLayout) -> dict[str, pd.DataFrame]:
    """The market's report tables, from its rounds and the world they made.

    Parameters
    ----------
    scn
        The scenario.
    run
        The run, with every round of its market done.

    Returns
    -------
    dict of str to pandas.DataFrame
        ``lending``, ``market_share``, ``credit_access`` and ``selection_bias``
        (:mod:`bureau.analysis.market`), and ``world_facts`` and ``platform_reach``
        (:func:`~bureau.world.facts.world_facts`), rounded.
    """
    rounds, schedule = scn.market_rounds, scn.market_schedule
    apps = read_table(run.world_table("applications"))
    rates = read_table(run.world_table("accounts"), ["account_id", "annual_rate"])
    apps["annual_rate"] = (
        rates.set_index("account_id")["annual_rate"].reindex(apps["account_id"]).to_numpy()
    )
    apps["round"] = assign_rounds(apps["month"].to_numpy(), schedule, scn.market.round_months)
    answers = _read_rounds(run, rounds, "answers")
    if answers.empty:
        answers = pd.DataFrame(columns=["application_id", "bureau", "match_status", "pd"])
    lenders = _read_rounds(run, rounds, "lenders")
    if lenders.empty:
        lenders = pd.DataFrame(columns=["round", "lender", "option"])
    prices = source_prices(scn)
    persons = read_table(
        run.world_table("persons"),
        ["person_id", "birth_date", "gender", "hukou", "city_tier", "device"],
    )
    memberships = read_table(run.world_table("memberships"))
    kinds = {p: platform.kind for p, platform in scn.platforms.items()}
    groups = applicant_groups(apps, persons, memberships, kinds, answers, scn.start_date)
    tables = {
        "lending": lending_table(apps, lenders, prices),
        "market_share": market_share_table(apps, lenders, prices),
        "credit_access": credit_access_table(apps, groups, scn.seed),
        "selection_bias": selection_bias_table(apps, answers, _read_rounds(run, rounds, "models")),
        # After the rounds, the world is the one their decisions made.
        **world_facts(scn, run.world),
    }
    return {name: frame.round(6) for name, frame in tables.items()}
