"""onestop: a workflow engine for Vietnam's one-stop-shop processing of administrative dossiers.

The nouns an embedding application uses are importable from here. The definitions that ship
with onestop (Can Tho's units and procedures) are the default; ``catalog.search`` finds codes
(``onestop catalog list`` on the command line):

    >>> from datetime import datetime
    >>> from onestop import Engine, ManualClock, VN_TZ
    >>> clock = ManualClock(datetime(2024, 3, 4, 9, 0, tzinfo=VN_TZ))
    >>> engine = Engine.open("sqlite://", clock=clock, dev=True)  # dev: no audit key needed
    >>> [p.code for p in engine.catalog.search(text="ho kinh doanh")]
    ['district.business-household', 'district.business-household-change']
    >>> [u.name for u in engine.catalog.search("units", text="ninh kieu")]
    ['Quận Ninh Kiều']
    >>> dossier = engine.receive("district.business-household", "92.NK")
    >>> dossier.status.value, f"{dossier.due_at:%Y-%m-%d %H:%M}"
    ('received', '2024-03-07 09:00')

Reports, alerts and the audit are sub-namespaces (``onestop.reports``, ``onestop.alerts``,
``onestop.audit``); the simulator (``onestop.sim``), the scheduler (``onestop.scheduler``), the
national-portal dispatcher (``onestop.sync``) and the test helpers (``onestop.testing``,
``onestop.testing_portal``) are imported on demand. The pure domain law lives in
``onestop.deadlines``, ``onestop.intake``, ``onestop.timeliness`` and ``onestop.plans``.
"""

from onestop import alerts, audit, reports
from onestop.access import Actor, Forbidden, OneStopPolicy, Policy
from onestop.arguments import Applicant
from onestop.calendar import Calendar, CalendarOverrides, OfficeHours
from onestop.catalog import Catalog, Procedure, Route, RouteStep
from onestop.clock import VN_TZ, Clock, ManualClock, SystemClock
from onestop.definitions import Definitions, UnitMapping
from onestop.directory import Officer, StaffDirectory
from onestop.dossier import Dossier, Event, Step
from onestop.engine import Engine
from onestop.errors import (
    AbolishedUnit,
    CalendarRangeError,
    DefinitionError,
    ExecutorUnavailable,
    IdempotencyKeyReused,
    ImportRowsError,
    InvalidTransition,
    NotAllowedHere,
    OnestopError,
    Problem,
    StaleVersion,
    UnknownDossier,
    UnknownFeedback,
    UnknownProcedure,
    UnknownUnit,
    ValidationError,
    VaultKeyError,
)
from onestop.feedback import FeedbackLaw
from onestop.feedback_access import FeedbackPolicy
from onestop.feedback_commands import FeedbackDesk, FeedbackItem
from onestop.periods import Period
from onestop.rules import RuleBook, RuleSet
from onestop.status import Status
from onestop.store import Store
from onestop.timeline import Timeline
from onestop.timeliness import Timeliness
from onestop.units import Agency, Level, Unit, Units, UnitSet
from onestop.vault import VaultKey

__all__ = [
    # Tier 1: running dossiers.
    "VN_TZ",
    "Actor",
    "Applicant",
    "Calendar",
    "Clock",
    "Dossier",
    "Engine",
    "Event",
    "FeedbackDesk",
    "FeedbackItem",
    "FeedbackPolicy",
    "ManualClock",
    "Officer",
    "OneStopPolicy",
    "Period",
    "Policy",
    "StaffDirectory",
    "Status",
    "Step",
    "Store",
    "SystemClock",
    "Timeliness",
    "VaultKey",
    # Tier 2: definitions (units, catalog, rules, calendar overrides).
    "Agency",
    "CalendarOverrides",
    "Catalog",
    "Definitions",
    "FeedbackLaw",
    "Level",
    "OfficeHours",
    "Procedure",
    "Route",
    "RouteStep",
    "RuleBook",
    "RuleSet",
    "Timeline",
    "Unit",
    "UnitMapping",
    "UnitSet",
    "Units",
    # Tier 3: errors.
    "AbolishedUnit",
    "CalendarRangeError",
    "DefinitionError",
    "ExecutorUnavailable",
    "Forbidden",
    "IdempotencyKeyReused",
    "ImportRowsError",
    "InvalidTransition",
    "NotAllowedHere",
    "OnestopError",
    "Problem",
    "StaleVersion",
    "UnknownDossier",
    "UnknownFeedback",
    "UnknownProcedure",
    "UnknownUnit",
    "ValidationError",
    "VaultKeyError",
    # Sub-namespaces.
    "alerts",
    "audit",
    "reports",
]
