"""``onestop sync run|status|retry``: the outbox delivered to the national public-service
portal."""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import Annotated

import typer
from rich.table import Table

from onestop.cli_common import DbOption, err, existing_store, fail, out
from onestop.defaults import DEFAULT_DB
from onestop.errors import ValidationError

sync_app = typer.Typer(
    help="Synchronisation with the national public-service portal (the outbox).",
    no_args_is_help=True,
)


@sync_app.command("run")
def sync_run(
    endpoint: Annotated[str, typer.Option(help="The portal's HTTP(S) endpoint (POST).")],
    db: DbOption = DEFAULT_DB,
    once: Annotated[
        bool, typer.Option(help="Deliver what is due now, then exit (else keep polling).")
    ] = False,
    batch: Annotated[int, typer.Option(min=1, help="Messages claimed per round.")] = 200,
    timeout: Annotated[float, typer.Option(min=0.01, help="Seconds to wait per attempt.")] = 10,
    max_attempts: Annotated[
        int, typer.Option(min=1, help="Attempts before a message is a dead letter.")
    ] = 12,
    poll: Annotated[float, typer.Option(min=0.01, help="Seconds between polls.")] = 1.0,
    header: Annotated[
        list[str] | None,
        typer.Option(help="Extra request header 'Name: value' (repeatable), e.g. a token."),
    ] = None,
) -> None:
    """Deliver the outbox's messages to the portal: at least once, in order per dossier, with
    an Idempotency-Key header; failed attempts back off exponentially (with jitter) and become
    dead letters after --max-attempts. Several dispatchers may run on one database.

    Example: onestop sync run --db onestop-demo.db --endpoint https://portal.example/api/status
    """
    import signal
    import threading

    from onestop.clock import SystemClock
    from onestop.sync import Dispatcher, HttpTransport, RetryPolicy

    headers = {}
    for item in header or []:
        name, sep, value = item.partition(":")
        if not sep or not name.strip():
            raise fail("--header: expected 'Name: value' (not shown: it may be secret)")
        headers[name.strip()] = value.strip()
    try:
        transport = HttpTransport(endpoint, timeout=timeout, headers=headers)
    except ValueError as exc:
        raise fail(f"--endpoint: {exc}") from None
    store = existing_store(db)
    dispatcher = Dispatcher(
        store,
        transport,
        SystemClock(),
        policy=RetryPolicy(max_attempts=max_attempts),
        batch=batch,
        timeout=timeout,
        claim_ttl=max(120.0, 4 * timeout),
    )
    if once:
        totals = dispatcher.drain()
        transport.close()
    else:
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        err.print(f"dispatcher {dispatcher.holder} delivering to {endpoint} (Ctrl-C to stop)")
        totals = dispatcher.run_forever(stop, poll)
    out.print(
        f"delivered {totals.delivered:,}, failed attempts {totals.failed:,}, "
        f"dead letters {totals.dead:,} ({totals.rounds:,} rounds)",
        highlight=False,
    )


@sync_app.command("status")
def sync_status(
    db: DbOption = DEFAULT_DB,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the outbox: backlog, age of the oldest undelivered message, dead letters.

    Example: onestop sync status --db onestop-demo.db --json
    """
    import json

    from onestop.clock import SystemClock
    from onestop.store.outbox import backlog

    now = SystemClock().now()
    state = backlog(existing_store(db), now)
    age = None
    if state.oldest_pending_at is not None:
        age = round((now - state.oldest_pending_at).total_seconds(), 3)
    data = {
        "pending": state.pending,
        "claimed": state.claimed,
        "dead": state.dead,
        "delivered": state.delivered,
        "oldest_undelivered_at": (
            None if state.oldest_pending_at is None else state.oldest_pending_at.isoformat()
        ),
        "oldest_undelivered_age_seconds": age,
        "dead_letters": state.dead_letters,
    }
    if as_json:
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        return
    table = Table(title="Outbox (national portal synchronisation)")
    table.add_column("backlog", justify="right")
    table.add_column("being sent", justify="right")
    table.add_column("oldest undelivered", justify="right")
    table.add_column("dead letters", justify="right")
    table.add_column("delivered", justify="right")
    table.add_row(
        f"{state.pending:,}",
        f"{state.claimed:,}",
        "–" if age is None else str(timedelta(seconds=int(age))),
        f"{state.dead:,}",
        f"{state.delivered:,}",
    )
    out.print(table)
    if state.dead_letters:
        letters = Table(title="Dead letters (onestop sync retry requeues them)")
        for col in ("id", "key", "attempts", "last error"):
            letters.add_column(col)
        for letter in state.dead_letters:
            letters.add_row(
                str(letter["id"]), letter["key"], str(letter["attempts"]), letter["last_error"]
            )
        out.print(letters)


@sync_app.command("retry")
def sync_retry(
    db: DbOption = DEFAULT_DB,
    id: Annotated[
        list[int] | None, typer.Option("--id", help="Only this dead letter (repeatable).")
    ] = None,
) -> None:
    """Requeue dead letters (all, or those given with --id) with fresh attempts.

    Example: onestop sync retry --db onestop-demo.db
    """
    from onestop.store.outbox import requeue_dead

    try:
        count = requeue_dead(existing_store(db), id or None)
    except ValidationError as exc:
        raise fail(f"--id: {exc.reason}") from None
    out.print(f"requeued {count:,} dead letter(s)", highlight=False)
