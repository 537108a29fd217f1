"""Simulation speed side by side: onestop (fast and SQL paths), Prosimos, bare SimPy.

Two queueing cases, as in the issue's table: a single activity M/M/3 (λ = 2.4/h, μ = 1/h,
c = 3, ρ = 0.8) and three such activities in tandem, round the clock. onestop runs its
simulator (the real engine: lifecycle, calendar, deadlines, hash-chained events, bulk write and
the SQL reports at the end) over the in-memory store (the fast path) and over SQL per command
(the old path); Prosimos 2 runs the same process as BPMN + JSON; bare SimPy (the floor) is the
same queues with no engine.

Prosimos is optional (``pip install -e .[bench]``). It pins ``pandas<3``, so where it cannot
share the environment it runs in its own interpreter: set ``ONESTOP_PROSIMOS_PYTHON`` to a
Python with ``prosimos`` installed (e.g. a venv). Without either the figure says it was skipped.
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import simpy
import yaml

from onestop.sim.model import CommandPath, Simulation
from onestop.sim.runner import load_scenario

SKIPPED = "skipped (pip install -e .[bench], or set ONESTOP_PROSIMOS_PYTHON)"
ARRIVALS_PER_HOUR, SERVICE_PER_HOUR, OFFICERS = 2.4, 1.0, 3
FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "workflows"
# A three-step route at three agencies of one district, no fee: a tandem of three queues.
_TANDEM = {
    "unit_set": "tiny",
    "procedures": [
        {
            "code": "TANDEM",
            "name_vi": "Ba bước nối tiếp",
            "name_en": "Three steps in tandem",
            "field": "certification",
            "level": "district",
            "statutory_days": 10,
            "route": {
                "steps": [
                    {"code": "receive", "role": "desk", "budget": 2},
                    {"code": "review", "role": "economy", "budget": 6},
                    {"code": "sign", "role": "leader", "budget": 2},
                ]
            },
        }
    ],
}


def _workflows(root: Path) -> Path:
    """The test definitions plus the tandem procedure."""
    target = root / "workflows"
    if not target.exists():
        shutil.copytree(FIXTURES, target)
        (target / "procedures" / "bench.yaml").write_text(yaml.safe_dump(_TANDEM))
    return target


def onestop_cases_per_second(
    activities: int, cases: int, path: CommandPath, events: bool = True
) -> float:
    """Cases/s of ``onestop simulate`` on the M/M/3 case (``activities`` 1 or 3 in tandem).

    Args:
        activities: 1 (COPY at a ward desk) or 3 (TANDEM at a district).
        cases: About how many cases arrive.
        path: ``kernel`` (the fast path), ``memory`` (the engine over memory) or ``sql``
            (the engine over SQL per command); see :class:`onestop.sim.model.Simulation`.
        events: Write the events (``False``: rows and steps only, a figures-only run).
    """
    root = Path(tempfile.mkdtemp(prefix="onestop-bench-"))
    procedure, unit = ("COPY", "W1") if activities == 1 else ("TANDEM", "D1")
    per_day = ARRIVALS_PER_HOUR * 24
    scenario = {
        "name": f"mm3-{activities}",
        "workflows": str(_workflows(root)),
        "start": "2025-01-01",
        "days": max(1, round(cases / per_day)),
        "drain": True,
        "calendar": "round_the_clock",
        "seed": 11,
        "volume": {"arrivals": [{"procedure": procedure, "unit": unit, "per_day": per_day}]},
        "staffing": {"default": OFFICERS},
        "service": {
            "unit": "hours",
            "default": {"kind": "exponential", "mean": 1 / SERVICE_PER_HOUR},
            "session_hours": None,
        },
        "behaviour": {"apology": False},
    }
    file = root / "scenario.yaml"
    file.write_text(yaml.safe_dump(scenario))
    loaded, workflows = load_scenario(file)
    sim = Simulation(loaded, workflows, 11, path=path, events=events)
    result = sim.run()
    shutil.rmtree(root, ignore_errors=True)
    return result.dossiers / result.wall_seconds


def simpy_cases_per_second(activities: int, cases: int) -> float:
    """The floor: the same queues in bare SimPy, no engine, no events."""
    rng = random.Random(11)
    env = simpy.Environment()
    stations = [simpy.Resource(env, capacity=OFFICERS) for _ in range(activities)]
    done = [0]

    def case() -> Any:
        for station in stations:
            with station.request() as slot:
                yield slot
                yield env.timeout(rng.expovariate(SERVICE_PER_HOUR))
        done[0] += 1

    def arrivals() -> Any:
        for _ in range(cases):
            yield env.timeout(rng.expovariate(ARRIVALS_PER_HOUR))
            env.process(case())

    t0 = time.perf_counter()
    env.process(arrivals())
    env.run()
    return done[0] / (time.perf_counter() - t0)


def _bpmn(activities: int) -> str:
    tasks = "".join(
        f'<task id="T{i}" name="T{i}"><incoming>F{i}</incoming><outgoing>F{i + 1}</outgoing></task>'
        for i in range(activities)
    )
    flows = "".join(
        f'<sequenceFlow id="F{i}" sourceRef="{"S" if i == 0 else f"T{i - 1}"}" '
        f'targetRef="{"E" if i == activities else f"T{i}"}"/>'
        for i in range(activities + 1)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" '
        'targetNamespace="x">'
        f'<process id="P" isExecutable="true"><startEvent id="S"><outgoing>F0</outgoing>'
        f'</startEvent>{tasks}<endEvent id="E"><incoming>F{activities}</incoming></endEvent>'
        f"{flows}</process></definitions>"
    )


def _parameters(activities: int) -> dict[str, Any]:
    """Prosimos's JSON: exponential arrivals and durations ([mean, min, max] in seconds),
    three resources per task, a round-the-clock calendar."""
    always = [{"from": "MONDAY", "to": "SUNDAY", "beginTime": "00:00:00", "endTime": "23:59:59"}]

    def expon(per_hour: float) -> list[dict[str, float]]:
        return [{"value": 3600 / per_hour}, {"value": 0}, {"value": 1e9}]

    return {
        "resource_profiles": [
            {"id": f"P{i}", "name": f"P{i}", "resource_list": [
                {"id": f"R{i}", "name": f"R{i}", "cost_per_hour": 1, "amount": OFFICERS,
                 "calendar": "C", "assigned_tasks": [f"T{i}"]}]}
            for i in range(activities)
        ],
        "arrival_time_distribution": {
            "distribution_name": "expon", "distribution_params": expon(ARRIVALS_PER_HOUR),
        },
        "arrival_time_calendar": always,
        "gateway_branching_probabilities": [],
        "task_resource_distribution": [
            {"task_id": f"T{i}", "resources": [
                {"resource_id": f"R{i}", "distribution_name": "expon",
                 "distribution_params": expon(SERVICE_PER_HOUR)}]}
            for i in range(activities)
        ],
        "resource_calendars": [{"id": "C", "name": "C", "time_periods": always}],
        "event_distribution": {},
    }  # fmt: skip


_RUN_PROSIMOS = """
import json, sys, time
from prosimos.simulation_engine import run_simulation
bpmn, params, cases = sys.argv[1], sys.argv[2], int(sys.argv[3])
t0 = time.perf_counter()
run_simulation(bpmn, params, cases, starting_at="2025-01-01T00:00:00.000+00:00")
print(json.dumps({"rate": cases / (time.perf_counter() - t0)}))
"""


def prosimos_python() -> str | None:
    """The interpreter that has Prosimos: ``ONESTOP_PROSIMOS_PYTHON``, else this one if it
    can import it, else ``None``."""
    configured = os.environ.get("ONESTOP_PROSIMOS_PYTHON")
    if configured:
        return configured
    return sys.executable if importlib.util.find_spec("prosimos") is not None else None


def prosimos_cases_per_second(activities: int, cases: int, python: str) -> float:
    """Cases/s of Prosimos on the same process, timed inside its interpreter (its start-up
    and imports excluded)."""
    root = Path(tempfile.mkdtemp(prefix="prosimos-bench-"))
    bpmn, params = root / "model.bpmn", root / "params.json"
    bpmn.write_text(_bpmn(activities))
    params.write_text(json.dumps(_parameters(activities)))
    out = subprocess.run(
        [python, "-c", _RUN_PROSIMOS, str(bpmn), str(params), str(cases)],
        capture_output=True,
        text=True,
        check=True,
        cwd=root,
    ).stdout
    shutil.rmtree(root, ignore_errors=True)
    return float(json.loads(out.strip().splitlines()[-1])["rate"])
