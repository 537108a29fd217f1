"""``onestop alerts`` and ``onestop scheduler run``: the alert sweep once, and the periodic
jobs (sweeps, rollups, anchors, report files) under a lease."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from onestop.cli_common import DbOption, WorkflowsOption, audit_key, err, fail, open_engine, out
from onestop.defaults import DEFAULT_DB
from onestop.errors import OnestopError


def alerts(
    db: DbOption = DEFAULT_DB,
    now: Annotated[
        str | None, typer.Option(help="Sweep time (ISO; default now, Asia/Ho_Chi_Minh).")
    ] = None,
    workflows: WorkflowsOption = None,
    init: Annotated[bool, typer.Option(help="Create onestop's tables if --db has none.")] = False,
) -> None:
    """Run one alert sweep and print the new due-soon and overdue alerts.

    Example: onestop alerts --db onestop-demo.db --now 2024-04-01T09:00
    """
    from onestop.alerts import AlertSweeper

    engine = open_engine(db, workflows, now, init)
    found = AlertSweeper(engine.store, engine.clock, engine.calendar).sweep()
    table = Table(title=f"New alerts at {engine.clock.now():%Y-%m-%d %H:%M}: {len(found)}")
    for col in ("dossier", "scope", "kind", "agency", "unit", "procedure", "due"):
        table.add_column(col)
    for a in found:
        table.add_row(
            str(a.dossier_id),
            a.scope,
            a.kind,
            a.agency or "",
            a.unit,
            a.procedure_code,
            f"{a.due_at:%Y-%m-%d %H:%M}",
        )
    out.print(table)


scheduler_app = typer.Typer(help="The periodic jobs (alert sweeps, rollups, reports).")


@scheduler_app.command("run")
def scheduler_run(
    db: DbOption = DEFAULT_DB,
    workflows: WorkflowsOption = None,
    sweep_minutes: Annotated[float, typer.Option(min=0.01, help="Minutes between sweeps.")] = 15,
    reports_dir: Annotated[Path, typer.Option(help="Where report files go.")] = Path("reports"),
    webhook: Annotated[str | None, typer.Option(help="POST alerts to this URL.")] = None,
    anchor_file: Annotated[
        Path | None, typer.Option(help="Append the nightly anchors to this file too.")
    ] = None,
    dev: Annotated[bool, typer.Option(help="Allow unsealed anchors without an audit key.")] = False,
    init: Annotated[bool, typer.Option(help="Create onestop's tables if --db has none.")] = False,
    sync_endpoint: Annotated[
        str | None, typer.Option(help="Deliver the outbox to this portal endpoint (job sync).")
    ] = None,
    lease_seconds: Annotated[
        float,
        typer.Option(
            min=1,
            max=86400,
            help="Lease length: renewed every third of it; a standby takes over between 2/3 "
            "and 4/3 of it after the active instance dies.",
        ),
    ] = 60,
    once: Annotated[
        bool,
        typer.Option(
            help="Run every job now (the sweep even outside office hours), print the results "
            "and exit."
        ),
    ] = False,
) -> None:
    """Run the scheduler in the foreground until SIGINT/SIGTERM. One instance is active per
    database; a second one waits and takes over when the first stops, or when its lease
    lapses after it died (between 2/3 and 4/3 of --lease-seconds after the death). Sweeps
    run in office hours; when they pause, one log line says until when. The nightly anchors
    are sealed with the audit key (ONESTOP_AUDIT_KEY or ONESTOP_AUDIT_KEY_FILE).

    Examples:
      onestop scheduler run --db postgresql+psycopg://onestop@127.0.0.1/onestop
      onestop scheduler run --once --dev
    """
    import signal

    from onestop.alerts import LogNotifier, Notifier, WebhookNotifier
    from onestop.log import configure
    from onestop.scheduler import Schedule, SchedulerService

    key = audit_key(dev)
    configure()
    engine = open_engine(db, workflows, init=init)
    notifiers: list[Notifier] = [LogNotifier()]
    if webhook:
        try:
            notifiers.append(WebhookNotifier(webhook))
        except ValueError as exc:
            raise fail(f"--webhook: {exc}") from None
    dispatcher = None
    if sync_endpoint:
        from onestop.sync import Dispatcher, HttpTransport

        try:
            dispatcher = Dispatcher(engine.store, HttpTransport(sync_endpoint), engine.clock)
        except ValueError as exc:
            raise fail(f"--sync-endpoint: {exc}") from None
    service = SchedulerService(
        engine.store,
        engine.clock,
        engine.calendar,
        notifiers,
        reports_dir,
        Schedule(sweep_seconds=sweep_minutes * 60),
        audit_key=key,
        anchor_file=anchor_file,
        dispatcher=dispatcher,
        lease_ttl=lease_seconds,
    )
    if once:
        import json

        try:
            results = service.run_once()
        except OnestopError as exc:
            raise fail(str(exc)) from None
        for job, result in results.items():
            if result is None:
                out.print(f"{job}: failed (see job_runs.error)", highlight=False)
                continue
            shown = {  # a long list (the days anchored) as its first and last items
                k: f"{v[0]} .. {v[-1]} ({len(v)})" if isinstance(v, list) and len(v) > 4 else v
                for k, v in result.items()
            }
            out.print(f"{job}: {json.dumps(shown)}", highlight=False, soft_wrap=True)
        return
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: service.stop())
    err.print(f"scheduler {service.id} waiting for the lease on {db} (Ctrl-C to stop)")
    service.run_forever()
    err.print("scheduler stopped")
