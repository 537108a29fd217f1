"""Security commands: the audit key and the vault key (``keygen``, ``vault-keygen``), the
tamper check and the daily anchors (``verify``, ``anchor``), and the staff directory access
is decided from (``staff-directory load|list|add|end``)."""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from onestop import inputs
from onestop.cli_common import (
    DbOption,
    audit_key,
    default_workflows,
    definition_failure,
    err,
    existing_store,
    fail,
    out,
)
from onestop.defaults import DEFAULT_DB, definition_path
from onestop.errors import AnchorError, AuditKeyError, DefinitionError, ValidationError


def verify(
    db: DbOption = DEFAULT_DB,
    anchors: Annotated[
        Path | None, typer.Option(help="The external anchor file to check the database against.")
    ] = None,
    workflows: Annotated[
        Path | None,
        typer.Option(
            help="Definitions whose working calendar the alert sweeps used, to judge due-soon "
            "alerts (default: the bundled ones)."
        ),
    ] = None,
) -> None:
    """Check the tamper-evident event log and everything derived from it: every dossier's hash
    chain and event order, every row against the replay of its events, idempotency results,
    every alert against the log (and the alerts the scheduler's sweeps had to raise), the
    scheduler's job runs, completed days' rollups, and the daily anchors (their chain, no day
    missing, their seals with the audit key from ONESTOP_AUDIT_KEY / ONESTOP_AUDIT_KEY_FILE,
    and every line of the external anchor file). Never writes. Exits 1 and names what it
    found.

    Example: onestop verify --db onestop-demo.db --anchors anchors.jsonl
    """
    from onestop.audit import audit
    from onestop.audit_key import load_audit_key
    from onestop.calendar import Calendar
    from onestop.definitions import Definitions

    store = existing_store(db)
    try:
        calendar = Calendar.vietnam(
            overrides=Definitions.load(workflows or default_workflows()).overrides
        )
    except DefinitionError as exc:
        raise definition_failure(exc) from None
    try:
        key = load_audit_key()
        report = audit(store, key, anchors, calendar=calendar)
    except (AuditKeyError, ValidationError) as exc:
        raise fail(str(exc)) from None
    for note in report.notes:
        err.print(f"note: {note}", highlight=False)
    if report.findings:
        for finding in report.findings:
            err.print(f"[red]{finding}[/]", highlight=False)
        err.print(f"[bold red]{len(report.findings)} problem(s) found[/]")
        raise typer.Exit(1)
    out.print(
        "[green]event log intact[/]: every chain, row, result, alert, job run, rollup and "
        "anchor checks out"
    )


def anchor(
    db: DbOption = DEFAULT_DB,
    through: Annotated[
        str | None, typer.Option(help="Last day to anchor, YYYY-MM-DD (default: yesterday).")
    ] = None,
    file: Annotated[
        Path | None, typer.Option(help="Also append the anchors to this file (copy it away).")
    ] = None,
    dev: Annotated[bool, typer.Option(help="Allow unsealed anchors without an audit key.")] = False,
) -> None:
    """Anchor every past day not anchored yet, sealed with the audit key (ONESTOP_AUDIT_KEY or
    ONESTOP_AUDIT_KEY_FILE), in the database and in the external anchor file. An anchored
    day is never rewritten: naming one again with --through is an error; without --through,
    a database anchored through yesterday already has nothing new to anchor (exit 0).

    Example: onestop anchor --db onestop-demo.db --file /mnt/offsite/anchors.jsonl
    """
    from onestop.anchors import anchor_through, last_anchored_day
    from onestop.clock import SystemClock, local_date

    store = existing_store(db)
    now = SystemClock().now()
    try:
        day = date.fromisoformat(through) if through else local_date(now) - timedelta(days=1)
        inputs.day(day, "--through")
    except ValueError:
        raise fail(f"--through: {through!r} is not a date (YYYY-MM-DD) onestop handles") from None
    key = audit_key(dev)
    try:
        new = anchor_through(store, day, now, key, file=file, strict=through is not None)
    except (AnchorError, ValidationError) as exc:
        raise fail(str(exc)) from None
    if not new:
        last = last_anchored_day(store)
        if last is None:
            out.print("nothing to anchor: the database has no events")
        else:
            out.print(f"nothing new to anchor: the database is anchored through {last}")
        return
    sealed = "unsealed (development)" if key is None else f"sealed with key {key.key_id}"
    out.print(f"anchored {new[0].day} to {new[-1].day} ({len(new)} day(s)), {sealed}")


def keygen(
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the new key.")],
) -> None:
    """Create an audit key file (64 hex digits, readable by its owner only). Keep it away from
    the database and its backups; point ONESTOP_AUDIT_KEY_FILE at it.

    Example: onestop keygen --out /etc/onestop/audit.key
    """
    from onestop.audit_key import AuditKey

    key = AuditKey.generate()
    _write_new_key(out_file, key.to_text())
    out.print(f"wrote audit key {key.key_id} to {out_file}")


def vault_keygen(
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the new key.")],
) -> None:
    """Create a personal-data vault key file (64 hex digits, readable by its owner only). Keep
    it away from the database and its backups; point ONESTOP_VAULT_KEY_FILE at it. Losing it
    loses every applicant's data.

    Example: onestop vault-keygen --out /etc/onestop/vault.key
    """
    from onestop.vault import VaultKey

    key = VaultKey.generate()
    _write_new_key(out_file, key.to_text())
    out.print(f"wrote vault key {key.key_id} to {out_file}")


def _write_new_key(path: Path, text: str) -> None:
    """Write a key file readable by its owner only; never over an existing file.

    Raises:
        typer.Exit: If the file exists or cannot be created.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise fail(f"--out: {path} exists; a key is never overwritten") from None
    except OSError as exc:
        raise fail(f"--out: {path}: {exc.strerror}") from None
    with os.fdopen(fd, "w") as handle:
        handle.write(text + "\n")


directory_app = typer.Typer(
    help="The staff directory access is decided from (not `onestop staff`, the staffing "
    "solver). Once a directory is loaded, every engine opened on the database enforces it.",
    no_args_is_help=True,
)


def _instant_option(text: str | None, option: str) -> datetime:
    """An ISO date (its midnight in Vietnam) or aware datetime; default now."""
    from onestop.clock import SystemClock
    from onestop.directory import Officer

    if text is None:
        return SystemClock().now()
    try:
        probe = Officer.model_validate(
            {"user_id": "x", "name": "x", "agency": "x", "roles": ["desk"], "valid_from": text}
        )
    except Exception:  # noqa: BLE001 - pydantic's error, reported as one line
        raise fail(f"{option}: {text!r} is not a date or a datetime with its zone") from None
    return probe.valid_from


def _units(workflows: Path | None, unit_set: str | None) -> Any:
    from onestop.definitions import Definitions

    try:
        return Definitions.load(workflows or default_workflows(), unit_set).catalog.units
    except DefinitionError as exc:
        raise definition_failure(exc) from None


@directory_app.command("load")
def directory_load(
    file: Annotated[Path, typer.Argument(help="The directory YAML file (officers: [...]).")],
    db: DbOption = DEFAULT_DB,
    workflows: Annotated[Path | None, typer.Option(help="Definitions directory.")] = None,
    unit_set: Annotated[str | None, typer.Option(help="Unit set officers belong to.")] = None,
) -> None:
    """Replace the directory with FILE's officers (every period, past ones included), checked
    against the unit set's agencies; nothing changes if any line is wrong.

    Example: onestop staff-directory load workflows/staff.yaml --db onestop-demo.db
    """
    from onestop.directory import StaffDirectory
    from onestop.store.officers import load_directory

    units = _units(workflows, unit_set)
    try:
        directory = StaffDirectory.load(definition_path(file), units)
    except DefinitionError as exc:
        raise definition_failure(exc) from None
    store = existing_store(db)
    with store.begin() as conn:
        count = load_directory(conn, directory)
    out.print(f"loaded {count} officer period(s) from {file}; the directory is now enforced")


@directory_app.command("list")
def directory_list(
    db: DbOption = DEFAULT_DB,
    at: Annotated[
        str | None, typer.Option(help="Only periods holding then (date or datetime).")
    ] = None,
) -> None:
    """List the directory's officer periods.

    Example: onestop staff-directory list --db onestop-demo.db --at 2025-07-01
    """
    from onestop.store.officers import list_officers

    store = existing_store(db)
    when = None if at is None else _instant_option(at, "--at")
    with store.begin() as conn:
        officers = list_officers(conn, when)
    table = Table(title="Staff directory")
    for col in ("user", "name", "agency", "roles", "from", "to"):
        table.add_column(col)
    for o in officers:
        to = "" if o.valid_to is None else o.valid_to.isoformat()
        table.add_row(
            o.user_id, o.name, o.agency, " ".join(sorted(o.roles)), o.valid_from.isoformat(), to
        )
    out.print(table)


@directory_app.command("add")
def directory_add(
    user: Annotated[str, typer.Argument(help="The officer's user id.")],
    name: Annotated[str, typer.Option(help="Display name.")],
    agency: Annotated[str, typer.Option(help="Agency code.")],
    roles: Annotated[
        str, typer.Option(help="Comma-separated: desk,specialist,leader,privacy,monitor,inspector.")
    ],
    valid_from: Annotated[str | None, typer.Option("--from", help="Start (default now).")] = None,
    valid_to: Annotated[str | None, typer.Option("--to", help="First instant after.")] = None,
    db: DbOption = DEFAULT_DB,
    workflows: Annotated[Path | None, typer.Option(help="Definitions directory.")] = None,
    unit_set: Annotated[str | None, typer.Option(help="Unit set of the agency.")] = None,
) -> None:
    """Add one period of an officer (it may not overlap another of theirs).

    Example: onestop staff-directory add lan.nt --name "Nguyễn Thị Lan" --agency 92.DESK
    --roles desk --from 2025-07-01
    """
    from onestop.directory import StaffDirectory
    from onestop.store.officers import add_officer

    units = _units(workflows, unit_set)
    start = _instant_option(valid_from, "--from")
    period: dict[str, Any] = {
        "user_id": user, "name": name, "agency": agency,
        "roles": [r.strip() for r in roles.split(",") if r.strip()],
        "valid_from": start.isoformat(),
    }  # fmt: skip
    if valid_to is not None:
        period["valid_to"] = _instant_option(valid_to, "--to").isoformat()
    try:
        [officer] = StaffDirectory.from_data({"officers": [period]}, units, "").officers
    except DefinitionError as exc:
        raise fail("; ".join(_option_problem(p, period) for p in exc.problems)) from None
    store = existing_store(db)
    try:
        with store.begin() as conn:
            add_officer(conn, officer)
    except ValidationError as exc:
        raise fail(str(exc)) from None
    out.print(f"added {user} ({' '.join(sorted(officer.roles))} at {agency}) from {start}")


#: The option of ``staff-directory add`` each field of a period comes from.
_ADD_OPTIONS = {
    "user_id": "USER", "name": "--name", "agency": "--agency", "roles": "--roles",
    "valid_from": "--from", "valid_to": "--to",
}  # fmt: skip


def _option_problem(problem: Any, period: dict[str, Any]) -> str:
    """A problem of the one period ``staff-directory add`` builds, named by its option."""
    field = problem.path.removeprefix("officers[0]").lstrip(".")
    name, _, index = field.partition("[")
    option = _ADD_OPTIONS.get(name, field or "arguments")
    if name == "roles" and index.rstrip("]").isdigit():
        return f"{option}: {period['roles'][int(index.rstrip(']'))]!r}: {problem.reason}"
    return f"{option}: {problem.reason}"


@directory_app.command("end")
def directory_end(
    user: Annotated[str, typer.Argument(help="The officer's user id.")],
    at: Annotated[str | None, typer.Option(help="From when they are not staff (default now).")] = (
        None
    ),
    db: DbOption = DEFAULT_DB,
) -> None:
    """End an officer's current period: from then on the directory refuses them staff powers.

    Example: onestop staff-directory end lan.nt --db onestop-demo.db
    """
    from onestop.store.officers import end_officer

    when = _instant_option(at, "--at")
    store = existing_store(db)
    try:
        with store.begin() as conn:
            end_officer(conn, user, when)
    except ValidationError as exc:
        raise fail(str(exc)) from None
    out.print(f"{user} is no longer staff from {when.isoformat()}")
