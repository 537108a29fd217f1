"""The database schema (SQLAlchemy Core), shared by SQLite and PostgreSQL.

Timestamps are stored in UTC (``timestamptz`` on PostgreSQL, ISO text on SQLite) and come back
aware in Asia/Ho_Chi_Minh. Local dates of receipt and resolution are stored beside them so that
reports group by day, month or year with plain indexed range scans.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from onestop.clock import VN_TZ

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL gets BIGINT identities.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class AwareDateTime(TypeDecorator[datetime]):
    """Aware datetimes stored in UTC, returned in Asia/Ho_Chi_Minh."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def bind_processor(self, dialect: Dialect) -> Any:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        # SQLite keeps "YYYY-MM-DD HH:MM:SS.ffffff" in UTC (SQLAlchemy's storage format, which
        # SQL comparisons rely on); isoformat writes exactly that, several times faster. A
        # dossier's instants recur (its deadline on each of its events, its receipt time in
        # three columns): the last few thousand conversions are remembered (an aware datetime
        # hashes and compares by its instant, which is all the text depends on).
        memo: dict[datetime, str] = {}

        def process(value: datetime | None) -> str | None:
            if value is None:
                return None
            text = memo.get(value)
            if text is not None:
                return text
            if value.tzinfo is None:
                raise ValueError("naive datetime given to the store")
            text = value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
            if len(memo) >= 4096:
                memo.clear()
            memo[value] = text
            return text

        return process

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)

        # SQLite keeps "YYYY-MM-DD HH:MM:SS.ffffff" in UTC: the C parser is several times faster
        # than the generic regex, and dossier rows carry fourteen timestamps.
        def process(value: Any) -> datetime | None:
            if value is None:
                return None
            return datetime.fromisoformat(value + "+00:00").astimezone(VN_TZ)

        return process

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(VN_TZ)  # type: ignore[no-any-return]


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

units = Table(
    "units",
    metadata,
    Column("unit_set", String(60), primary_key=True),
    Column("code", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("level", String(40), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("parent", String(40)),
)

levels = Table(
    "levels",
    metadata,
    Column("unit_set", String(60), primary_key=True),
    Column("code", String(40), primary_key=True),
    Column("name_vi", String(200), nullable=False),
    Column("name_en", String(200), nullable=False),
    Column("rank", Integer, nullable=False),
)

fields = Table(
    "fields",
    metadata,
    Column("unit_set", String(60), primary_key=True),
    Column("code", String(60), primary_key=True),
    Column("name_vi", String(200), nullable=False),
    Column("name_en", String(200), nullable=False),
)

agencies = Table(
    "agencies",
    metadata,
    Column("unit_set", String(60), primary_key=True),
    Column("code", String(60), primary_key=True),
    Column("name", String(300), nullable=False),
    Column("unit", String(40), nullable=False),
    Column("role", String(40), nullable=False),
    Column("kind", String(40), nullable=False),
)

procedures = Table(
    "procedures",
    metadata,
    Column("unit_set", String(60), primary_key=True),
    Column("code", String(60), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("name_vi", String(500), nullable=False),
    Column("name_en", String(500), nullable=False),
    Column("field", String(60), nullable=False),
    Column("level", String(40), nullable=False),
    Column("statutory_days", Float, nullable=False),
    Column("time_unit", String(20), nullable=False),
    Column("fee_vnd", BigInteger, nullable=False),
    Column("online", String(10), nullable=False),
    Column("postal", Boolean, nullable=False),
    Column("location_independent", Boolean, nullable=False),
    Column("definition", JSON, nullable=False),
)

dossiers = Table(
    "dossiers",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("reference", String(100), unique=True),
    Column("unit_set", String(60), nullable=False),
    Column("rule_set", String(60), nullable=False),
    Column("procedure_code", String(60), nullable=False),
    Column("procedure_version", Integer, nullable=False),
    Column("field", String(60), nullable=False),
    Column("level", String(40), nullable=False),
    Column("competent_unit", String(40), nullable=False),
    Column("intake_unit", String(40), nullable=False),
    Column("intake_mode", String(30), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("return_method", String(20), nullable=False),
    # The applicant's row of the personal-data vault (a random reference, no personal data).
    Column("applicant_ref", String(40)),
    Column("status", String(30), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("step_index", Integer, nullable=False),
    Column("step_count", Integer, nullable=False),
    Column("current_agency", String(60)),
    Column("submitted_at", AwareDateTime),
    Column("received_at", AwareDateTime),
    Column("received_on", Date),
    Column("due_at", AwareDateTime),
    Column("original_due_at", AwareDateTime),
    Column("step_due_at", AwareDateTime),
    Column("apologies", Integer, nullable=False),
    Column("supplements_requested", Integer, nullable=False, server_default="0"),
    Column("paused_from", String(30)),
    # When the deadline clock stopped; NULL while it runs (also in a pause that does not stop it).
    Column("paused_at", AwareDateTime),
    Column("resolved_at", AwareDateTime),
    Column("resolved_on", Date),
    Column("outcome", String(20)),
    Column("timeliness", String(20)),
    Column("fee_paid_online", Boolean),
    # Digitisation (Resolution 76/NQ-CP targets), NULL where not recorded.
    Column("digitised_intake", Boolean),
    Column("reused_data", Boolean),
    Column("result_electronic", Boolean),
    Column("result_digitised", Boolean),
    Column("dispatched_at", AwareDateTime),
    Column("returned_at", AwareDateTime),
    Column("rating", Integer),
    Column("closed_at", AwareDateTime),
    # Where a dossier transferred by a reorganisation was received (NULL: never transferred).
    Column("origin_unit_set", String(60)),
    Column("origin_unit", String(40)),
    Column("origin_procedure_version", Integer),
    # Hash of the dossier's latest event: the head of its tamper-evident chain.
    Column("event_hash", String(64)),
    Column("created_at", AwareDateTime, nullable=False),
    Column("updated_at", AwareDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    Index("ix_dossiers_status_due", "status", "due_at"),
    Index("ix_dossiers_status_step_due", "status", "step_due_at"),
    Index("ix_dossiers_resolved_on_level", "resolved_on", "level"),
    Index("ix_dossiers_received_on_level", "received_on", "level"),
    Index("ix_dossiers_competent_unit_status", "competent_unit", "status"),
    Index("ix_dossiers_current_agency_status", "current_agency", "status"),
    Index("ix_dossiers_applicant_ref", "applicant_ref"),
    # A dossier id, once committed, is never given to another citizen (even after deletion).
    sqlite_autoincrement=True,
)

dossier_steps = Table(
    "dossier_steps",
    metadata,
    Column("dossier_id", BigId, ForeignKey("dossiers.id"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("step_code", String(60), nullable=False),
    Column("agency", String(60), nullable=False),
    Column("started_at", AwareDateTime, nullable=False),
    Column("due_at", AwareDateTime, nullable=False),
    Column("completed_at", AwareDateTime),
    Column("timeliness", String(20)),
    Index("ix_dossier_steps_agency_timeliness", "agency", "timeliness"),
)

events = Table(
    "events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    # The case the event belongs to: a dossier (its id), or a feedback item (minus its id, the
    # feedback id space in the one log; hence no foreign key — verify checks both kinds).
    Column("dossier_id", BigId, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("at", AwareDateTime, nullable=False),
    Column("trigger", String(40), nullable=False),
    Column("from_status", String(30), nullable=False),
    Column("to_status", String(30), nullable=False),
    Column("step_index", Integer, nullable=False),
    Column("agency", String(60)),
    Column("unit", String(40)),
    Column("actor", String(100)),
    Column("data", JSON, nullable=False),
    # The dossier's deadline after the event (with to_status and agency, its state then), so
    # reports can judge any past instant. Derived from ``data``, hence outside the hash.
    Column("due_at", AwareDateTime),
    Column("paused_at", AwareDateTime),
    Column("apologies", Integer),
    # HMAC-SHA-256 (or sha256 without a key) of the previous event's hash + this event's
    # canonical content.
    Column("hash", String(64), nullable=False, server_default=""),
    # Which audit key chained the event (HMAC-SHA-256); NULL: a plain sha256 chain (development
    # mode, or written before migration 0011).
    Column("key_id", String(20)),
    UniqueConstraint("dossier_id", "seq"),
    Index("ix_events_at", "at"),
    # Ids are never handed out twice, even after the newest rows are deleted.
    sqlite_autoincrement=True,
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    # Since 0014: a keyed digest of (user, command, dossier, the caller's key), see
    # onestop.authority; the caller's key itself is not stored.
    Column("key", String(200), primary_key=True),
    Column("command", String(40), nullable=False),
    Column("dossier_id", BigId),
    Column("result", JSON),
    Column("created_at", AwareDateTime, nullable=False),
    # A keyed digest of the command's arguments: a reused key with other arguments is refused.
    Column("args_digest", String(64)),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    # The case: a dossier, or minus a feedback item's id (no foreign key, as in ``events``).
    Column("dossier_id", BigId, nullable=False),
    # -1 for the whole dossier, else the step's index: NULLs would defeat the unique key.
    Column("step_seq", Integer, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("agency", String(60)),
    Column("unit", String(40), nullable=False),
    Column("level", String(40), nullable=False),
    Column("procedure_code", String(60), nullable=False),
    Column("due_at", AwareDateTime, nullable=False),
    Column("raised_at", AwareDateTime, nullable=False),
    Column("delivered_at", AwareDateTime),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", String(500)),
    UniqueConstraint("dossier_id", "step_seq", "kind"),
    Index("ix_alerts_delivered_at", "delivered_at"),
)

scheduler_leases = Table(
    "scheduler_leases",
    metadata,
    Column("name", String(60), primary_key=True),
    Column("holder", String(100), nullable=False),
    Column("expires_at", AwareDateTime, nullable=False),
)

job_runs = Table(
    "job_runs",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("job", String(60), nullable=False),
    Column("holder", String(100), nullable=False),
    Column("started_at", AwareDateTime, nullable=False),
    Column("finished_at", AwareDateTime),
    Column("result", JSON),
    Column("error", String(500)),
)

daily_rollups = Table(
    "daily_rollups",
    metadata,
    Column("day", Date, primary_key=True),
    Column("level", String(40), primary_key=True),
    Column("unit", String(40), primary_key=True),
    Column("procedure_code", String(60), primary_key=True),
    Column("field", String(60), nullable=False),
    Column("received", Integer, nullable=False),
    Column("resolved", Integer, nullable=False),
    Column("early", Integer, nullable=False),
    Column("on_time", Integer, nullable=False),
    Column("late", Integer, nullable=False),
    Column("apologies", Integer, nullable=False),
    Column("online", Integer, nullable=False),
    # The open backlog at the end of the day (as of the next midnight), by its state then.
    Column("open_in_time", Integer, nullable=False, server_default="0"),
    Column("open_overdue", Integer, nullable=False, server_default="0"),
    Column("open_apologies", Integer, nullable=False, server_default="0"),
    Column("computed_at", AwareDateTime, nullable=False),
)

anchors = Table(
    "anchors",
    metadata,
    Column("day", Date, primary_key=True),
    Column("events", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("computed_at", AwareDateTime, nullable=False),
    # The previous day's anchor hash (chain), and which key sealed this one; rows older than
    # migration 0010 are plain digests ("sha256-v1").
    Column("prev_hash", String(64), nullable=False, server_default=""),
    Column("key_id", String(20), nullable=False, server_default="sha256-v1"),
)

officers = Table(
    "officers",
    metadata,
    # One period of an officer of the staff directory (onestop.directory).
    Column("user_id", String(100), primary_key=True),
    Column("valid_from", AwareDateTime, primary_key=True),
    Column("valid_to", AwareDateTime),
    Column("name", String(200), nullable=False),
    Column("agency", String(60), nullable=False),
    # Space-separated, sorted.
    Column("roles", String(200), nullable=False),
)

personal_data = Table(
    "personal_data",
    metadata,
    # The personal-data vault (onestop.vault): one applicant's data for one dossier, each field
    # AES-256-GCM under the vault key (base64), looked up by keyed digests only.
    Column("ref", String(40), primary_key=True),
    Column("dossier_id", BigId, ForeignKey("dossiers.id"), nullable=False),
    Column("key_id", String(20), nullable=False),
    Column("name", String(600)),
    Column("id_number", String(200)),
    Column("phone", String(200)),
    Column("address", String(1200)),
    # HMAC-SHA-256 blind indexes: the citizen ID number, and the applicant's account.
    Column("id_index", String(64)),
    Column("account_index", String(64)),
    Column("created_at", AwareDateTime, nullable=False),
    Column("updated_at", AwareDateTime, nullable=False),
    Index("ix_personal_data_id_index", "id_index"),
    Index("ix_personal_data_account_index", "account_index"),
    Index("ix_personal_data_dossier_id", "dossier_id"),
)

# The transactional outbox: one message per event that changes what the national portal shows
# (onestop.portal), written in the event's transaction, delivered by the sync dispatcher.
outbox = Table(
    "outbox",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("dossier_id", BigId, nullable=False),
    # The event's seq: messages of a dossier are delivered in this order.
    Column("seq", Integer, nullable=False),
    # When the event happened, and the dossier's columns the message carries as they were after
    # it (onestop.portal.STATE_FIELDS); the message is built from them and the dossier's intake
    # columns when it is sent.
    Column("created_at", AwareDateTime, nullable=False),
    Column("trigger", String(40), nullable=False),
    Column("status", String(30), nullable=False),
    Column("current_agency", String(60)),
    Column("due_at", AwareDateTime),
    Column("received_at", AwareDateTime),
    Column("resolved_at", AwareDateTime),
    Column("returned_at", AwareDateTime),
    Column("outcome", String(20)),
    Column("timeliness", String(20)),
    # pending, delivered, or dead (gave up after the maximum attempts; `sync retry` requeues).
    Column("state", String(10), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", AwareDateTime),
    # A dispatcher's claim (lease): nobody else sends the message until it expires.
    Column("claimed_by", String(100)),
    Column("claimed_until", AwareDateTime),
    Column("delivered_at", AwareDateTime),
    Column("last_error", String(500)),
    # No other index: each costs every command a b-tree insert (one message per event is the
    # events table's unique key already). Only undelivered messages are indexed, for the
    # dispatcher's claims and `sync status`; a delivered one leaves the index.
    Index(
        "ix_outbox_undelivered",
        "dossier_id",
        "seq",
        sqlite_where=text("delivered_at IS NULL"),
        postgresql_where=text("delivered_at IS NULL"),
    ),
)

# Citizen feedback (phản ánh, kiến nghị): a second kind of case. Its events are in ``events``
# under ``dossier_id = -id`` (chained and replayed like a dossier's).
feedback_cases = Table(
    "feedback_cases",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("reference", String(100), unique=True),
    Column("law", String(60), nullable=False),
    Column("rule_set", String(60), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("subject", String(30), nullable=False),
    Column("topic", String(60)),
    Column("procedure_code", String(60)),
    Column("linked_dossier", BigId),
    Column("anonymous", Boolean, nullable=False),
    Column("level", String(40), nullable=False),
    Column("unit", String(40), nullable=False),
    Column("agency", String(60), nullable=False),
    Column("assignee", String(100)),
    Column("status", String(30), nullable=False),
    Column("received_at", AwareDateTime, nullable=False),
    Column("received_on", Date, nullable=False),
    Column("due_at", AwareDateTime),
    Column("original_due_at", AwareDateTime),
    Column("extensions", Integer, nullable=False),
    Column("outcome", String(30)),
    Column("reject_reason", String(30)),
    Column("forwarded_to", String(60)),
    Column("resolved_at", AwareDateTime),
    Column("resolved_on", Date),
    Column("timeliness", String(20)),
    Column("published_at", AwareDateTime),
    Column("closed_at", AwareDateTime),
    Column("rating", Integer),
    Column("rated_at", AwareDateTime),
    Column("rating_channel", String(20)),
    Column("event_hash", String(64)),
    Column("created_at", AwareDateTime, nullable=False),
    Column("updated_at", AwareDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    Index("ix_feedback_cases_received_on_level", "received_on", "level"),
    Index("ix_feedback_cases_resolved_on_level", "resolved_on", "level"),
    Index("ix_feedback_cases_status_due", "status", "due_at"),
)

# Satisfaction answers: ratings of returned dossiers and of feedback answers (channel and time
# recorded), and the city's own survey forms. The free-text comment is kept here, outside the
# event chain and the logs, so it can be erased.
satisfaction = Table(
    "satisfaction",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("kind", String(20), nullable=False),  # dossier | feedback | survey
    Column("case_id", BigId),
    Column("form_id", String(100)),
    Column("unit", String(40)),
    Column("level", String(40)),
    Column("score", Integer, nullable=False),
    Column("channel", String(20), nullable=False),
    Column("answered_at", AwareDateTime, nullable=False),
    Column("answered_on", Date, nullable=False),
    Column("comment", String(2000)),
    UniqueConstraint("kind", "form_id"),
    Index("ix_satisfaction_answered_on_kind", "answered_on", "kind"),
)
