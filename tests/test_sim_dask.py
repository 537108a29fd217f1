"""Replications on a real Dask cluster (a LocalCluster of two worker processes on loopback):
the same seed gives the same summary as this process alone and as one worker; a worker killed
mid-run costs a retry, never a replication lost or counted twice; the CLI's --executor."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import Any

import dask
import pytest
from distributed import Client, LocalCluster, get_task_stream
from typer.testing import CliRunner

from onestop.cli import app
from onestop.sim.executors import open_executor
from onestop.sim.runner import run_replications, write_outputs

SCENARIO = Path(__file__).parent / "fixtures" / "scenarios" / "mmc.yaml"
DAYS = 2  # mmc: 57.6 arrivals a day, ~115 dossiers a replication
REPS = 3


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(  # type: ignore[no-untyped-call]
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    ) as local:
        yield local


@pytest.fixture(scope="module")
def address(cluster: LocalCluster) -> str:
    return f"dask://{cluster.scheduler_address.removeprefix('tcp://')}"


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    """Three replications in this process, one after another: the oracle."""
    return run_replications(SCENARIO, replications=REPS, days=DAYS)


def comparable(summary: dict[str, Any]) -> dict[str, Any]:
    """The summary without what depends on wall-clock time."""
    out = {k: v for k, v in summary.items() if k != "simulated_dossiers_per_second"}
    out["runs"] = [{k: v for k, v in run.items() if k != "wall_seconds"} for run in out["runs"]]
    return out


class Counting(Executor):
    """Pass submissions on to ``inner``, recording which replication each one was."""

    def __init__(self, inner: Executor) -> None:
        self.inner = inner
        self.submitted: list[int] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.submitted.append(args[1].index)
        return self.inner.submit(fn, *args, **kwargs)


def test_same_seed_same_summary_locally_on_one_worker_and_on_two(
    cluster: LocalCluster, address: str, reference: dict[str, Any]
) -> None:
    with open_executor(address) as pool:
        assert pool is not None
        two = run_replications(SCENARIO, replications=REPS, days=DAYS, executor=pool)
    with Client(cluster.scheduler_address, set_as_default=False) as client:  # type: ignore[no-untyped-call]
        one_worker = [next(iter(client.scheduler_info()["workers"]))]
        only = client.get_executor(pure=False, workers=one_worker, allow_other_workers=False)
        one = run_replications(SCENARIO, replications=REPS, days=DAYS, executor=only)
    assert two["seeds"] == one["seeds"] == [11, 12, 13]
    assert comparable(two) == comparable(reference)
    assert comparable(one) == comparable(reference)
    # The runs differ from one another (the comparison is not between constants).
    assert len({run["dossiers"] for run in reference["runs"]}) > 1


def test_a_worker_killed_mid_run_costs_a_retry_not_a_replication(
    cluster: LocalCluster, address: str, reference: dict[str, Any]
) -> None:
    """The scheduler is told to give up on a task at its first lost worker (allowed_failures
    0), so the runner's own retry is what brings the replication back."""
    scheduler: Any = cluster.scheduler  # in this process: LocalCluster runs it here
    saved = scheduler.allowed_failures
    scheduler.allowed_failures = 0
    killed: list[str] = []
    finished: list[int] = []
    try:
        with Client(cluster.scheduler_address, set_as_default=False) as client:  # type: ignore[no-untyped-call]
            counting = Counting(client.get_executor(pure=False))

            def kill_a_busy_worker(index: int, share: float) -> None:
                if share < 1.0:
                    return
                finished.append(index)
                if killed:
                    return
                busy = [w for w, keys in client.processing().items() if keys]
                if busy:
                    killed.append(busy[0])
                    client.run(os._exit, 1, workers=busy[:1], on_error="ignore")

            summary = run_replications(
                SCENARIO,
                replications=REPS,
                days=DAYS,
                executor=counting,
                progress=kill_a_busy_worker,
            )
    finally:
        scheduler.allowed_failures = saved
    assert killed, "no worker was busy when the first replication finished"
    assert len(counting.submitted) > REPS  # a replication went out again after its worker died
    assert sorted(set(counting.submitted)) == [0, 1, 2]
    assert summary["replications"] == REPS
    assert summary["seeds"] == [11, 12, 13]
    assert comparable(summary) == comparable(reference)
    # Each replication reported finished once while running, then once by the closing sweep.
    assert sorted(finished) == [0, 0, 1, 1, 2, 2]


def test_simulate_on_a_dask_cluster_writes_what_the_local_executor_writes(
    address: str, reference: dict[str, Any], tmp_path: Path
) -> None:
    remote = CliRunner().invoke(
        app,
        ["simulate", str(SCENARIO), "--days", str(DAYS), "--replications", str(REPS)]
        + ["--out", str(tmp_path / "dask"), "--executor", address],
    )
    assert remote.exit_code == 0, remote.output
    write_outputs(reference, tmp_path / "local")
    for name in ("on-time-by-level.csv", "agencies.csv"):
        assert (tmp_path / "dask" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()
    summary = json.loads((tmp_path / "dask" / "summary.json").read_text())
    assert summary["seeds"] == [11, 12, 13]
    assert comparable(summary) == comparable(json.loads(json.dumps(reference, default=str)))


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("foo", "error: --executor: 'foo' is neither 'local' nor 'dask://HOST:PORT'"),
        ("dask://", "error: --executor: 'dask://' is neither 'local' nor 'dask://HOST:PORT'"),
        ("tcp://127.0.0.1:8786", "error: --executor: 'tcp://127.0.0.1:8786' is neither"),
        ("dask://127.0.0.1:{port}", "error: --executor dask://127.0.0.1:{port}: no Dask scheduler"),
    ],
)
def test_a_bad_executor_is_one_line_and_exit_2(spec: str, message: str, tmp_path: Path) -> None:
    port = closed_port()
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        result = CliRunner().invoke(
            app,
            ["simulate", str(SCENARIO), "--days", "1", "--out", str(tmp_path)]
            + ["--executor", spec.format(port=port)],
        )
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message.format(port=port)), result.output
    assert not (tmp_path / "summary.json").exists()


def test_staff_confirms_on_a_dask_cluster(cluster: LocalCluster, address: str) -> None:
    """The solver's round runs on the cluster, with the figures of the local staffing test
    (tests/test_sim_staffing.py: 7 officers, reached after one round)."""
    with (
        Client(cluster.scheduler_address, set_as_default=False) as client,  # type: ignore[no-untyped-call]
        get_task_stream(client) as stream,
    ):
        result = CliRunner().invoke(
            app,
            ["staff", str(SCENARIO), "--target", "on_time=0.999", "--max-wait", "1h"]
            + ["--days", "5", "--replications", "1", "--executor", address],
        )
    assert result.exit_code == 0, result.output
    assert [t["key"].startswith("_replicate-") for t in stream.data] == [True]
    assert "W1-DESK │        7 │         7" in result.output
    assert (
        "target on_time=0.999 reached after 1 round(s); 7 officers in 1 agencies" in result.output
    )
