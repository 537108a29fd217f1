"""Ctrl-C during ``onestop simulate``: the workers stop, nothing leaks, and what is left is
marked partial."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from onestop import cli
from onestop.sim import runner as sim_runner

ROOT = Path(__file__).parent.parent
SCENARIO = ROOT / "simulations" / "cantho-2024.yaml"


def _ctrl_c_as_in_a_terminal() -> None:
    """Give the child the default SIGINT a terminal gives: a shell starts a background job
    (``pytest ... &``) with SIGINT ignored, the ignore is inherited across exec, and Python
    then installs no KeyboardInterrupt handler, so the Ctrl-C under test would be lost."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_for(condition: Any, what: str, limit: float = 120) -> None:
    """Poll ``condition`` (a bounded wait, not a timing assertion)."""
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.1)


def _children_ignoring_sigint(parent: int) -> dict[int, bool]:
    """Each child process of ``parent``: whether it ignores SIGINT (Linux /proc: SigIgn)."""
    found = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(
                line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line
            )
        except OSError:  # the process ended meanwhile
            continue
        if int(fields.get("PPid", "0")) == parent:
            found[int(fields["Pid"])] = bool(int(fields["SigIgn"], 16) & (1 << (signal.SIGINT - 1)))
    return found


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.skipif(sys.platform == "win32", reason="process groups and SIGINT are POSIX")
def test_ctrl_c_stops_the_workers_cleanly_and_marks_the_database_partial(tmp_path: Path) -> None:
    # A run far longer than the test (a year at 5 % of the volume, two workers), interrupted
    # as a terminal does: SIGINT to the whole process group, once replication 1's database
    # exists (its worker is simulating by then).
    db = tmp_path / "sim.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "onestop", "simulate", str(SCENARIO), "--replications", "2",
         "--jobs", "2", "--days", "366", "--scale", "0.05", "--db", str(db),
         "--out", str(tmp_path / "out")],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True, preexec_fn=_ctrl_c_as_in_a_terminal,
    )  # fmt: skip
    try:
        _wait_for(lambda: db.exists() or proc.poll() is not None, "the first replication")
        assert proc.poll() is None, proc.communicate()
        if Path("/proc/self/status").exists():
            # The workers leave Ctrl-C to the parent, which stops them (no worker tracebacks):
            # two workers and the resource tracker, all ignoring SIGINT.
            children = _children_ignoring_sigint(proc.pid)
            assert len(children) >= 3 and all(children.values()), children
        os.killpg(proc.pid, signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:  # pragma: no cover - only when the test fails
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "Traceback" not in stdout
    assert "leaked semaphore" not in stderr
    assert "KeyboardInterrupt" not in stderr and "SpawnPoolWorker" not in stderr
    assert "interrupted: partial run, no replication of 2 finished; nothing written" in stderr
    assert f"interrupted: --db {db} did not finish; kept as {db}.partial" in stderr
    assert not db.exists() and Path(f"{db}.partial").exists()
    assert not (tmp_path / "out").exists()
    _wait_for(lambda: not _group_alive(proc.pid), "the workers to exit", limit=30)


def test_an_interrupt_writes_the_finished_replications_marked_partial(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Replication 1 of 2 finishes, then Ctrl-C arrives while replication 2 runs.
    real = sim_runner._replicate
    calls: list[int] = []

    def second_is_interrupted(workload: Any, rep: Any, progress: Any = None) -> Any:
        calls.append(rep.index)
        if rep.index == 1:
            raise KeyboardInterrupt
        return real(workload, rep, progress)

    monkeypatch.setattr(sim_runner, "_replicate", second_is_interrupted)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli.app,
        ["simulate", str(SCENARIO), "--replications", "2", "--days", "3", "--scale", "0.005",
         "--db", str(tmp_path / "sim.db"), "--out", str(out)],
    )  # fmt: skip
    assert calls == [0, 1]
    assert result.exit_code == 130, result.output
    assert "interrupted: partial results of 1 of 2 replications written to" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["partial"] is True
    assert summary["replications"] == 1 and summary["replications_requested"] == 2
    assert (out / "on-time-by-level.csv").read_text().splitlines()[1].endswith(",1")
    assert (tmp_path / "sim.db").exists()  # replication 1 wrote it and finished
    assert not Path(f"{tmp_path / 'sim.db'}.partial").exists()


def test_an_interrupted_pool_is_fully_shut_down_before_the_interrupt_propagates() -> None:
    # The pool's manager thread closes its wake-up pipe as it ends; if it is still running at
    # interpreter exit, Python 3.11's exit hook can write to the pipe as it closes (an EBADF
    # traceback after Ctrl-C, seen once in CI). So the interrupt waits for that thread.
    from concurrent.futures import process

    def interrupt(index: int, share: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(sim_runner.Interrupted) as caught:
        sim_runner.run_replications(
            SCENARIO, replications=2, jobs=2, progress=interrupt, days=366, scale=0.05
        )
    assert caught.value.indices == []
    managers = [t for t in threading.enumerate() if isinstance(t, process._ExecutorManagerThread)]
    assert managers == []
