"""A peer, side by side: SpiffWorkflow running the same cases, persisted after every task.

SpiffWorkflow is optional (``pip install -e .[bench]``): without it the figure says it was
skipped. Each case is receive → complete_step → resolve → return, one transaction per command:
onestop's persisted engine; SpiffWorkflow keeping the workflow object and storing its
serialized JSON in SQLite after each task (WAL, ``synchronous=NORMAL``, the checkpoint interval
of onestop's stores); and the
bare ``sqlite3`` driver replaying onestop's own statements (the floor).
"""

from __future__ import annotations

import importlib.util
import os
import sqlite3
import tempfile
import time
from typing import Any

from onestop.store import SQLITE_WAL_PAGES

SKIPPED = "skipped (pip install -e .[bench])"
#: The tasks of a case, as in onestop's loop.
TASKS = ("receive", "complete_step", "resolve", "return_result")


def available() -> bool:
    """Whether SpiffWorkflow is installed."""
    return importlib.util.find_spec("SpiffWorkflow") is not None


def spiff_cases_per_second(n: int) -> float:
    """``n`` cases with SpiffWorkflow 3, the workflow JSON stored after each task."""
    from SpiffWorkflow.serializer.json import JSONSerializer
    from SpiffWorkflow.specs.Simple import Simple
    from SpiffWorkflow.specs.WorkflowSpec import WorkflowSpec
    from SpiffWorkflow.util.task import TaskState
    from SpiffWorkflow.workflow import Workflow

    spec = WorkflowSpec("dossier", addstart=True)
    previous = spec.start
    for name in TASKS:
        task = Simple(spec, name)
        previous.connect(task)
        previous = task
    serializer = JSONSerializer()
    path = os.path.join(tempfile.mkdtemp(), "spiff.db")
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute(f"PRAGMA wal_autocheckpoint={SQLITE_WAL_PAGES}")
    con.execute("CREATE TABLE cases (id INTEGER PRIMARY KEY, state TEXT NOT NULL)")

    def step(workflow: Any) -> str:
        """Run the next ready task (after Start); the workflow's JSON."""
        ready = workflow.get_tasks(state=TaskState.READY)
        if ready[0].task_spec.name == "Start":
            ready[0].run()
            ready = workflow.get_tasks(state=TaskState.READY)
        ready[0].run()
        return str(serializer.serialize_workflow(workflow))

    t0 = time.perf_counter()
    for _ in range(n):
        workflow = Workflow(spec)
        con.execute("BEGIN IMMEDIATE")
        case_id = con.execute("INSERT INTO cases (state) VALUES (?)", (step(workflow),)).lastrowid
        con.execute("COMMIT")
        for _ in TASKS[1:]:
            con.execute("BEGIN IMMEDIATE")
            con.execute("UPDATE cases SET state = ? WHERE id = ?", (step(workflow), case_id))
            con.execute("COMMIT")
        if not workflow.is_completed():
            raise AssertionError("the SpiffWorkflow case did not complete")
    rate = n / (time.perf_counter() - t0)
    con.close()
    return rate
