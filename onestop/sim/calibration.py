"""Calibration of the lateness mechanisms on 2021-2024, a leave-one-year-out check, and the
held-out prediction of 1-23 July 2025.

Only published 2021-2024 figures are fitted: the on-time rates by level (Can Tho's report) with
each year's published digitisation share as that year's input. Three free parameters are fitted
on a grid, with common random numbers (the same seed for a year at every grid point): the mean
wait of a consultation round or a site visit (working days, both mechanisms), the most likely
time to carry a paper file between buildings (working days), and the officers per agency
relative to the scenario's stated headcounts (``staffing_factor``, officers per stated officer:
headcounts are not published, and at full volume they decide the queues). Everything else stays
as the scenario states it. Run at volume scale 1: a scaled run thins arrivals, not officers
(:attr:`onestop.sim.scenario.Scenario.scale_note`), so its queues are not the city's.

Run (documented in the README; minutes, not for CI)::

    python -m onestop.sim.calibration simulations/cantho-2024.yaml \\
        --predict simulations/two-tier-2025.yaml --out out/calibration.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import sys
from datetime import date
from pathlib import Path
from typing import Any

from onestop.defaults import scenario_path
from onestop.log import configure
from onestop.sim.model import Simulation
from onestop.sim.runner import load_scenario
from onestop.sim.scenario import Scenario
from onestop.sim.stats import wilson

# Published on-time rates by level (Can Tho report, May 2025); the data fitted on.
PUBLISHED: dict[int, dict[str, float]] = {
    2021: {"city": 0.9988, "district": 0.9927, "commune": 0.9980},
    2022: {"city": 0.9974, "district": 0.9965, "commune": 0.9993},
    2023: {"city": 0.9992, "district": 0.9992, "commune": 0.9999},
    2024: {"city": 0.9996, "district": 0.9993, "commune": 0.9999},
}
# Digitised share of dossiers (published: 2022 8.83 %, 2023 41.47 %, 2024 77.38 %, 2025
# 86.46 %); 2021 is not published: 2022's value is used (digitisation only rose).
DIGITISED = {2021: 0.0883, 2022: 0.0883, 2023: 0.4147, 2024: 0.7738, 2025: 0.8646}
# Held out: the merged city, 1-23 July 2025 (published: 1.58 % late of 47,816 dossiers).
JULY_2025_LATE_SHARE, JULY_2025_DOSSIERS = 0.0158, 47_816
GRID = {
    "external_mean_days": (0.125, 0.5),
    "paper_mode_days": (0.25,),
    "staffing_factor": (1.0, 1.25, 1.5),
}


def apply(scenario: Scenario, params: dict[str, float], digitised: float) -> Scenario:
    """The scenario with fitted parameters and a year's digitisation share.

    ``staffing_factor`` becomes the staffing's ``factor`` (officers per stated officer,
    :class:`onestop.sim.scenario.Staffing`), replacing the scenario's own; absent, the
    staffing is unchanged.
    """
    if "staffing_factor" in params:
        staffing = scenario.staffing.model_copy(update={"factor": params["staffing_factor"]})
        scenario = scenario.model_copy(update={"staffing": staffing})
    mech = scenario.mechanisms
    update: dict[str, Any] = {}
    for name in ("consultation", "site_visit"):
        external = getattr(mech, name)
        if external is not None:
            delay = external.delay_days.model_copy(update={"mean": params["external_mean_days"]})
            update[name] = external.model_copy(update={"delay_days": delay})
    if mech.handover is not None:
        mode = params["paper_mode_days"]
        paper = mech.handover.paper_days.model_copy(
            update={"kind": "triangular", "low": mode / 2, "mode": mode, "high": 3 * mode}
        )
        update["handover"] = mech.handover.model_copy(
            update={"paper_days": paper, "digitised_share": digitised}
        )
    return scenario.model_copy(update={"mechanisms": mech.model_copy(update=update)})


def _run(task: tuple[str, str, int]) -> dict[str, Any]:
    scenario_json, workflows, seed = task
    scenario = Scenario.model_validate_json(scenario_json)
    result = Simulation(scenario, Path(workflows), seed, events=False).run()  # figures only
    return {
        "levels": {r["level"]: [r["resolved"], r["late"]] for r in result.report["rows"]},
        "fields": {r["field"]: [r["resolved"], r["late"]] for r in result.by_field},
        "dossiers": result.dossiers,
    }


def _pool_map(tasks: list[tuple[str, str, int]], jobs: int) -> list[dict[str, Any]]:
    if jobs <= 1:
        return [_run(t) for t in tasks]
    ctx = multiprocessing.get_context("spawn")
    outs = []
    with ctx.Pool(jobs, initializer=configure, initargs=(None, "WARNING")) as pool:
        for k, out in enumerate(pool.imap(_run, tasks), 1):
            outs.append(out)
            print(f"{k}/{len(tasks)} runs", out["levels"], file=sys.stderr, flush=True)
    return outs


def grid_runs(
    path: str | Path, *, days: int, scale: float, jobs: int, replications: int = 1
) -> list[dict[str, Any]]:
    """Every grid point × year × replication (same seeds across grid points)."""
    base, workflows = load_scenario(path, days, scale)
    points = [dict(zip(GRID, values, strict=True)) for values in itertools.product(*GRID.values())]
    tasks, keys = [], []
    for params in points:
        for year in PUBLISHED:
            for rep in range(replications):
                sc = apply(base, params, DIGITISED[year])
                sc = sc.model_copy(update={"start": date(year, 1, 1)})
                seed = base.seed + 100 * year + rep
                tasks.append((sc.model_dump_json(), str(workflows), seed))
                keys.append((params, year))
    records = []
    for (params, year), out in zip(keys, _pool_map(tasks, jobs), strict=True):
        records.append({"params": params, "year": year, **out})
    return records


def _pooled(records: list[dict[str, Any]], params: dict[str, float], year: int) -> dict[str, Any]:
    levels: dict[str, list[int]] = {}
    for r in records:
        if r["params"] == params and r["year"] == year:
            for level, (resolved, late) in r["levels"].items():
                acc = levels.setdefault(level, [0, 0])
                acc[0] += resolved
                acc[1] += late
    return levels


def distance(records: list[dict[str, Any]], params: dict[str, float], years: list[int]) -> float:
    """Chi-square-like distance between simulated late counts and the published shares applied
    to the simulated resolved counts (the +1 keeps rare-event levels from dominating)."""
    total = 0.0
    for year in years:
        for level, (resolved, late) in _pooled(records, params, year).items():
            expected = resolved * (1 - PUBLISHED[year][level])
            total += (late - expected) ** 2 / (expected + 1)
    return total


def fit(records: list[dict[str, Any]], years: list[int]) -> dict[str, float]:
    """The grid point closest to the published rates of ``years``."""
    points = {json.dumps(r["params"], sort_keys=True): r["params"] for r in records}
    best: dict[str, float] = min(points.values(), key=lambda p: distance(records, p, years))
    return best


def leave_one_year_out(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fit on three years, predict the fourth, for each year."""
    rows = []
    for held in PUBLISHED:
        params = fit(records, [y for y in PUBLISHED if y != held])
        for level, (resolved, late) in sorted(_pooled(records, params, held).items()):
            rows.append(
                {
                    "year": held,
                    "level": level,
                    "params": params,
                    "predicted_on_time": wilson(resolved - late, resolved),
                    "published_on_time": PUBLISHED[held][level],
                }
            )
    return rows


def predict(
    path: str | Path,
    params: dict[str, float],
    *,
    days: int,
    scale: float,
    replications: int,
    jobs: int,
) -> dict[str, Any]:
    """Run the held-out scenario with the fitted parameters and 2025's digitisation share."""
    base, workflows = load_scenario(path, days, scale)
    sc = apply(base, params, DIGITISED[2025])
    tasks = [(sc.model_dump_json(), str(workflows), base.seed + r) for r in range(replications)]
    outs = _pool_map(tasks, jobs)
    resolved = sum(lv[0] for o in outs for lv in o["levels"].values())
    late = sum(lv[1] for o in outs for lv in o["levels"].values())
    fields: dict[str, list[int]] = {}
    for o in outs:
        for f, (n, k) in o["fields"].items():
            acc = fields.setdefault(f, [0, 0])
            acc[0] += n
            acc[1] += k
    ranking = sorted(((f, k / n) for f, (n, k) in fields.items() if n and k), key=lambda fk: -fk[1])
    return {
        "late_share": wilson(late, resolved),
        "published": wilson(round(JULY_2025_LATE_SHARE * JULY_2025_DOSSIERS), JULY_2025_DOSSIERS),
        "fields_by_late_share": ranking,
        "dossiers_per_replication": sum(o["dossiers"] for o in outs) / len(outs),
    }


def _pct(w: dict[str, float]) -> str:
    return f"{w['rate'] * 100:.2f} % [{w['low'] * 100:.2f}, {w['high'] * 100:.2f}]"


def markdown(result: dict[str, Any]) -> str:
    """The README's tables from a calibration result."""
    lines = [
        f"Fitted on {result['fitted_on']}: {result['fitted']} (grid {result['grid']}).",
        "",
        "| year | level | simulated on time (95 % Wilson), fitted | leave-one-year-out "
        "prediction | published |",
        "|---|---|---|---|---|",
    ]
    held = {(r["year"], r["level"]): r for r in result["leave_one_year_out"]}
    for row in result["fit"]:
        out = held[(row["year"], row["level"])]
        lines.append(
            f"| {row['year']} | {row['level']} | {_pct(row['simulated_on_time'])} | "
            f"{_pct(out['predicted_on_time'])} (fit {out['params']}) | "
            f"{row['published_on_time'] * 100:.2f} % |"
        )
    july = result.get("july_2025")
    if july:
        ranking = ", ".join(f"{f} {share * 100:.2f} %" for f, share in july["fields_by_late_share"])
        lines += [
            "",
            "| held out: 1-23 July 2025 | predicted (95 % Wilson) | published |",
            "|---|---|---|",
            f"| late share | {_pct(july['late_share'])} | {_pct(july['published'])} |",
            f"| fields by late share | {ranking or 'none late'} | land, then construction |",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Command line: fit, leave-one-year-out, and the July 2025 prediction, as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", help="scenario file, or with --table a calibration JSON")
    parser.add_argument("--table", action="store_true", help="print the tables of a result")
    parser.add_argument("--predict", default=None)
    parser.add_argument("--days", type=int, default=366)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--replications", type=int, default=1)
    parser.add_argument("--predict-scale", type=float, default=1.0)
    parser.add_argument("--predict-replications", type=int, default=4)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", default="out/calibration.json")
    args = parser.parse_args(argv)
    if args.table:
        print(markdown(json.loads(Path(args.scenario).read_text())))
        return
    configure(None, "WARNING")
    # A path, or a bundled scenario's name: the command works from any directory.
    args.scenario = str(scenario_path(args.scenario))
    note = load_scenario(args.scenario, args.days, args.scale)[0].scale_note
    if note:
        print(f"note: {note}", file=sys.stderr)
    if args.predict:
        args.predict = str(scenario_path(args.predict))
    records = grid_runs(
        args.scenario, days=args.days, scale=args.scale, jobs=args.jobs,
        replications=args.replications,
    )  # fmt: skip
    years = list(PUBLISHED)
    params = fit(records, years)
    result: dict[str, Any] = {
        "fitted_on": "on-time rates by level 2021-2024 (Can Tho report), digitisation by year",
        "grid": GRID,
        "fitted": params,
        "fit": [
            {
                "year": y,
                "level": lv,
                "simulated_on_time": wilson(n - k, n),
                "published_on_time": PUBLISHED[y][lv],
            }
            for y in years
            for lv, (n, k) in sorted(_pooled(records, params, y).items())
        ],  # fmt: skip
        "leave_one_year_out": leave_one_year_out(records),
        "records": records,
        "settings": vars(args),
    }
    if args.predict:
        result["july_2025"] = predict(
            args.predict, params, days=23, scale=args.predict_scale,
            replications=args.predict_replications, jobs=args.jobs,
        )  # fmt: skip
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(markdown(result))


if __name__ == "__main__":
    main()
