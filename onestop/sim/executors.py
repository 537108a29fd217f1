"""Where replications run: local processes or a Dask distributed cluster.

The runner and the staffing solver submit their work to any :class:`concurrent.futures.Executor`.
:func:`open_executor` turns the CLI's ``--executor`` into one: ``local`` (this machine's
processes, the default) or ``dask://HOST:PORT`` (the executor of a
:class:`distributed.Client` connected to that scheduler; ``pip install onestop[dask]``). Work is
shipped *by value* in a :class:`Workload` (the scenario and the text of every definition file),
since workers need not share this machine's filesystem.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from onestop.definitions import Definitions
from onestop.errors import ExecutorUnavailable
from onestop.sim.scenario import Scenario

# Each worker process loads a workload's definitions once: (digest, unit set) -> (root, defs).
_LOADED: dict[tuple[str, str | None], tuple[Path, Definitions]] = {}


@dataclass(frozen=True)
class Workload:
    """A scenario and its definitions, by value (picklable, no path to a shared disk).

    Attributes:
        scenario: The scenario, overrides (days, scale, staffing) already applied.
        files: Every definition file as (path relative to the definitions root, bytes); a root
            that is a single file is stored under its name.
        single_file: Whether the definitions root was one YAML file rather than a directory.
        digest: SHA-256 of the files, naming the definitions in each worker's cache.
    """

    scenario: Scenario
    files: tuple[tuple[str, bytes], ...]
    single_file: bool
    digest: str

    @classmethod
    def of(cls, scenario: Scenario, workflows: Path) -> Workload:
        """Read the definitions under ``workflows`` into a workload with ``scenario``."""
        if workflows.is_file():
            paths, single = [workflows], True
        else:
            paths, single = sorted(p for p in workflows.rglob("*.y*ml") if p.is_file()), False
        files = tuple(
            (p.name if single else p.relative_to(workflows).as_posix(), p.read_bytes())
            for p in paths
        )
        sha = hashlib.sha256()
        for name, data in files:
            sha.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
        return cls(scenario, files, single, sha.hexdigest())

    def with_scenario(self, scenario: Scenario) -> Workload:
        """The same definitions with another scenario (e.g. other headcounts)."""
        return Workload(scenario, self.files, self.single_file, self.digest)

    def definitions(self) -> tuple[Path, Definitions]:
        """The definitions, written to a private directory and loaded once per process.

        Raises:
            DefinitionError: If they do not load (as on the machine that sent them).
        """
        key = (self.digest, self.scenario.unit_set)
        cached = _LOADED.get(key)
        if cached is None:
            # Loaded whole, so the directory is not needed afterwards.
            with tempfile.TemporaryDirectory(prefix="onestop-defs-") as tmp:
                folder = Path(tmp)
                for name, data in self.files:
                    target = folder / name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(data)
                root = folder / self.files[0][0] if self.single_file else folder
                cached = (root, Definitions.load(root, self.scenario.unit_set))
            _LOADED[key] = cached
        return cached


def local_executor(
    jobs: int,
    initializer: Callable[..., None] | None = None,
    initargs: tuple[Any, ...] = (),
) -> ProcessPoolExecutor:
    """``jobs`` fresh (spawned) local processes."""
    return ProcessPoolExecutor(
        jobs,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=initializer,
        initargs=initargs,
    )


def parse_executor(spec: str) -> str | None:
    """The scheduler address of ``dask://HOST:PORT`` (``tcp://HOST:PORT``), ``None`` for local.

    Raises:
        ExecutorUnavailable: If ``spec`` is neither ``local`` nor ``dask://HOST:PORT``.
    """
    if spec == "local":
        return None
    parts = urlsplit(spec)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme != "dask" or not parts.hostname or port is None or parts.path not in ("", "/"):
        raise ExecutorUnavailable(f"--executor: {spec!r} is neither 'local' nor 'dask://HOST:PORT'")
    return f"tcp://{parts.netloc}"


@contextmanager
def open_executor(
    spec: str, jobs: int = 1, worker_log_level: str = "WARNING"
) -> Iterator[Executor | None]:
    """The executor named by ``spec``, closed on exit.

    ``local`` yields ``None``: the runner then uses ``jobs`` local processes (or this process
    for ``jobs == 1``), which also report progress within each replication. ``dask://HOST:PORT``
    connects a :class:`distributed.Client` (timeout: Dask's ``distributed.comm.timeouts.connect``
    setting, e.g. ``DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT=5s``) and yields its executor;
    ``jobs`` is then ignored (the cluster has its own workers).

    Args:
        spec: ``local`` or ``dask://HOST:PORT``.
        jobs: Local processes.
        worker_log_level: Log level of Dask workers whose structlog nobody configured (present
            and future workers; a worker configured by its host keeps its own logging).

    Raises:
        ExecutorUnavailable: Malformed ``spec``, Dask not installed, or scheduler unreachable.
    """
    address = parse_executor(spec)
    if address is None:
        yield None
        return
    try:
        from distributed import Client
    except ImportError:
        raise ExecutorUnavailable(
            f"--executor {spec}: Dask is not installed (pip install 'onestop[dask]')"
        ) from None
    try:
        client = Client(address, set_as_default=False)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError) as exc:
        raise ExecutorUnavailable(f"--executor {spec}: no Dask scheduler answers ({exc})") from None
    try:
        _quiet_workers(client, worker_log_level)
    except Exception as exc:
        client.close()  # type: ignore[no-untyped-call]
        raise ExecutorUnavailable(f"--executor {spec}: the Dask workers refused ({exc})") from None
    try:
        # pure=False: every replication is its own task, never merged with an equal-looking one.
        yield client.get_executor(pure=False)  # type: ignore[no-untyped-call]
    finally:
        client.close()  # type: ignore[no-untyped-call]


def _quiet_workers(client: Any, level: str) -> None:
    """Register a worker plugin setting the log level of workers that left structlog as is."""
    from distributed import WorkerPlugin

    class QuietLogs(WorkerPlugin):
        def setup(self, worker: Any) -> None:
            import structlog

            from onestop.log import configure

            if not structlog.is_configured():
                configure(None, level)

    client.register_plugin(QuietLogs(), name="onestop-quiet-logs")
