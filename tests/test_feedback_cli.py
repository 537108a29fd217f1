"""``onestop feedback ...``: a feedback item walked through its lifecycle on the command line,
each command as a staff directory user; refusals (bad input, a transition not allowed, a user
the policy refuses) are one ``error:`` line, exit code 2, and change no table; on both backends.

Limits (tests/fixtures/workflows/feedback.yaml): classification 5 working days, handling 10
from receipt, one extension of 10; counted from the next office opening after receipt. The
expected lines are written out by hand.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from onestop import Engine
from onestop.cli import app
from onestop.log import configure
from onestop.testing import fingerprint

from .conftest import FIXTURES

STAFF = """officers:
  - {user_id: mc-01, name: Mai, agency: W1-DESK, roles: [desk], valid_from: 2025-01-01}
  - {user_id: ct-01, name: Cuong, agency: W1-LEAD, roles: [leader], valid_from: 2025-01-01}
  - {user_id: mc-02, name: Hai, agency: W2-DESK, roles: [desk], valid_from: 2025-01-01}
"""
runner = CliRunner()


@pytest.fixture
def db(db_url: str, tmp_path: Path) -> Iterator[str]:
    """An onestop database on the fixtures' definitions, with the staff directory above."""
    Engine.open(db_url, FIXTURES).store.dispose()
    staff = tmp_path / "staff.yaml"
    staff.write_text(STAFF, encoding="utf-8")
    loaded = runner.invoke(
        app, ["staff-directory", "load", str(staff), "--db", db_url, "--workflows", str(FIXTURES)]
    )
    assert loaded.exit_code == 0, loaded.output
    yield db_url
    configure(json=False, level="WARNING")  # the CLI logged to its runner's stream, closed now


def feedback(db: str, *args: str, now: str = "2025-03-03T09:00") -> Result:
    """``onestop feedback ARGS`` on ``db`` at ``now`` (Asia/Ho_Chi_Minh)."""
    return runner.invoke(
        app, ["feedback", *args, "--db", db, "--workflows", str(FIXTURES), "--now", now]
    )


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.stdout


def test_a_feedback_item_through_its_lifecycle(db: str) -> None:
    # Monday 3 March 2025, 09:00: classify within 5 working days (4, 5, 6, 7, 10 March).
    received = feedback(db, "receive", "--user", "mc-01", "--channel", "hotline", "--subject",
                        "procedure", "--unit", "W1", "--topic", "civil_status")  # fmt: skip
    assert ok(received) == "feedback 1: received, due 2025-03-10 09:00, version 1\n"
    # Within competence: 10 working days from receipt.
    accepted = feedback(db, "accept", "1", "--user", "mc-01", now="2025-03-04T10:00")
    assert ok(accepted) == "feedback 1: accepted, due 2025-03-17 09:00, version 2\n"
    assigned = feedback(db, "assign", "1", "--user", "mc-01", "--to", "cb-07",
                        now="2025-03-04T11:00")  # fmt: skip
    assert ok(assigned) == "feedback 1: assigned, due 2025-03-17 09:00, version 3\n"
    # The unit's leader extends by 10 working days from 17 March: 18-21, 24-28, 31 March.
    extended = feedback(db, "extend", "1", "--user", "ct-01", "--reason", "site visit",
                        now="2025-03-14T10:00")  # fmt: skip
    assert ok(extended) == "feedback 1: assigned, due 2025-03-31 09:00, version 4\n"
    listed = feedback(db, "list", "--user", "mc-01", "--due-by", "2025-03-31T09:00",
                      now="2025-03-14T11:00")  # fmt: skip
    assert ok(listed) == (
        "1 feedback item(s) being handled\n"
        "       1  assigned  due 2025-03-31 09:00  W1  W1-DESK  procedure  cb-07\n"
    )
    # Another commune's desk may not read it: not listed.
    other = feedback(db, "list", "--user", "mc-02", now="2025-03-14T11:00")
    assert ok(other) == "0 feedback item(s) being handled\n"
    # Answered before the extended limit, and still late: it was extended.
    answered = feedback(db, "answer", "1", "--user", "mc-01", "--summary", "fee refunded",
                        now="2025-03-20T10:00")  # fmt: skip
    assert ok(answered) == "feedback 1: answered (late), due 2025-03-31 09:00, version 5\n"
    published = feedback(db, "publish", "1", "--user", "mc-01", now="2025-03-20T11:00")
    assert ok(published) == "feedback 1: published (late), due 2025-03-31 09:00, version 6\n"
    rated = feedback(db, "rate", "1", "--user", "mc-01", "--score", "4", "--channel", "zalo",
                     now="2025-03-21T11:00")  # fmt: skip
    assert ok(rated) == "feedback 1: published (late), due 2025-03-31 09:00, version 7\n"
    closed = feedback(db, "close", "1", "--user", "mc-01", now="2025-03-21T12:00")
    assert ok(closed) == "feedback 1: closed (late), due 2025-03-31 09:00, version 8\n"
    shown = feedback(db, "show", "1", "--user", "ct-01", now="2025-03-21T12:00")
    assert (
        ok(shown)
        == """\
feedback 1
  status:        closed
  channel:       hotline
  subject:       procedure
  topic:         civil_status
  procedure:     –
  dossier:       –
  anonymous:     no
  reference:     –
  unit:          W1
  agency:        W1-DESK
  assignee:      cb-07
  received:      2025-03-03 09:00
  due:           2025-03-31 09:00
  original due:  2025-03-17 09:00
  extensions:    1
  outcome:       within_competence
  reject reason: –
  forwarded to:  –
  handled:       2025-03-20 10:00
  timeliness:    late
  published:     2025-03-20 11:00
  closed:        2025-03-21 12:00
  rating:        4
  time limits:   decree-92-2017
  version:       8
events:
  2025-03-03 09:00  receive  new → received  by mc-01
  2025-03-04 10:00  accept   received → accepted  by mc-01
  2025-03-04 11:00  assign   accepted → assigned  by mc-01
  2025-03-14 10:00  extend   assigned → assigned  by ct-01
  2025-03-20 10:00  answer   assigned → answered  by mc-01
  2025-03-20 11:00  publish  answered → published  by mc-01
  2025-03-21 11:00  rate     published → published  by mc-01
  2025-03-21 12:00  close    published → closed  by mc-01
"""
    )


def test_forwarded_and_rejected_items(db: str) -> None:
    for _ in range(2):
        ok(feedback(db, "receive", "--user", "mc-01", "--channel", "portal", "--subject",
                    "regulation", "--unit", "W1"))  # fmt: skip
    # Classified on the limit's day, by its time: on time.
    forwarded = feedback(db, "forward", "1", "--user", "mc-01", "--to", "W1-JUS",
                         now="2025-03-10T09:00")  # fmt: skip
    assert ok(forwarded) == "feedback 1: forwarded (on time), due 2025-03-10 09:00, version 2\n"
    rejected = feedback(db, "reject", "2", "--user", "mc-01", "--reason", "duplicate",
                        now="2025-03-10T09:01")  # fmt: skip
    assert ok(rejected) == "feedback 2: rejected (late), due 2025-03-10 09:00, version 2\n"
    assert "  forwarded to:  W1-JUS\n" in ok(feedback(db, "show", "1", "--user", "mc-01"))
    assert "  reject reason: duplicate\n" in ok(feedback(db, "show", "2", "--user", "mc-01"))


#: Refused commands on a received item (at W1, with W1-DESK) and the error line they give.
REFUSALS: list[tuple[list[str], str]] = [
    (["accept", "1", "--user", "mc-02"], "the feedback is with W1-DESK, not with W2-DESK"),
    (["extend", "1", "--user", "mc-01", "--reason", "x"],
     "mc-01 needs the leader role at W1 to extend"),
    (["show", "1", "--user", "mc-02"], "mc-02 works neither at W1 nor at W1-DESK"),
    (["receive", "--user", "mc-02", "--channel", "portal", "--subject", "procedure",
      "--unit", "W1"], "mc-02 is not at the desk of W1"),
    (["publish", "1", "--user", "mc-01"],
     "'publish' is not allowed when the dossier is 'received'"),
    (["reject", "1", "--user", "mc-01", "--reason", "rude"],
     "--reason: Input should be 'anonymous', 'duplicate' or 'outside_scope'"),
    (["receive", "--user", "mc-01", "--channel", "fax", "--subject", "procedure",
      "--unit", "W1"], "--channel: Input should be 'portal', 'hotline', 'counter' or 'mail'"),
    (["receive", "--user", "mc-01", "--channel", "portal", "--subject", "procedure",
      "--unit", "W9"], "unknown unit 'W9' in unit set 'tiny'"),
    (["assign", "1", "--user", "mc-01", "--to", "a\x00b"], "--to: character U+0000"),
    (["accept", "7", "--user", "mc-01"], "no feedback item 7"),
    (["accept", "0", "--user", "mc-01"], "ID: must be an integer from 1"),
    (["accept", "x", "--user", "mc-01"], "Invalid value for 'ID'"),
    (["accept", "1", "--user", ""], "--user: String should have at least 1 character"),
]  # fmt: skip


def test_a_refused_command_changes_nothing(db: str) -> None:
    ok(feedback(db, "receive", "--user", "mc-01", "--channel", "hotline", "--subject",
                "procedure", "--unit", "W1"))  # fmt: skip
    engine = Engine.open(db, FIXTURES, migrate=False)
    before = fingerprint(engine)
    for args, message in REFUSALS:
        refused = feedback(db, *args, now="2025-03-04T10:00")
        assert refused.exit_code == 2, (args, refused.output)
        [line] = [e for e in refused.stderr.splitlines() if e.startswith("error:")]
        assert message in line, args
        assert "Traceback" not in refused.output
        assert fingerprint(engine) == before, args
    engine.store.dispose()


def test_without_a_directory_the_user_is_only_recorded(db_url: str) -> None:
    Engine.open(db_url, FIXTURES).store.dispose()
    ok(feedback(db_url, "receive", "--user", "anyone", "--channel", "mail", "--subject",
                "procedure", "--unit", "W2"))  # fmt: skip
    shown = ok(feedback(db_url, "show", "1", "--user", "someone"))
    assert shown.endswith("events:\n  2025-03-03 09:00  receive  new → received  by anyone\n")
    configure(json=False, level="WARNING")


def test_a_refusal_is_one_line_unless_warnings_are_asked_for(db: str) -> None:
    ok(feedback(db, "receive", "--user", "mc-01", "--channel", "hotline", "--subject",
                "procedure", "--unit", "W1"))  # fmt: skip
    refused = feedback(db, "accept", "1", "--user", "mc-02")
    assert refused.exit_code == 2
    assert refused.stderr.strip().splitlines() == [
        "error: the feedback is with W1-DESK, not with W2-DESK"
    ]
    loud = runner.invoke(
        app,
        ["--log-level", "warning", "feedback", "accept", "1", "--user", "mc-02", "--db", db,
         "--workflows", str(FIXTURES), "--now", "2025-03-03T09:00"],
    )  # fmt: skip
    lines = loud.stderr.strip().splitlines()
    assert len(lines) == 2 and "feedback.forbidden" in lines[0] and lines[1].startswith("error:")
