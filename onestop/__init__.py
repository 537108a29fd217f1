"""onestop: a workflow engine for Vietnam's one-stop-shop processing of administrative dossiers.

The nouns an embedding application uses are importable from here::

    from onestop import Engine, ManualClock, VN_TZ
    engine = Engine.open("sqlite:///onestop.db", "workflows")
    dossier = engine.receive("1.001", "31117")

Reports, alerts and the audit are sub-namespaces (``onestop.reports``, ``onestop.alerts``,
``onestop.audit``); the simulator (``onestop.sim``), the scheduler (``onestop.scheduler``) and the
test helpers (``onestop.testing``) are imported on demand. The pure domain law lives in
``onestop.deadlines``, ``onestop.intake``, ``onestop.timeliness`` and ``onestop.plans``.
"""

from onestop import alerts, audit, reports
from onestop.access import Actor, Forbidden, OneStopPolicy, Policy
from onestop.arguments import Applicant
from onestop.calendar import Calendar, CalendarOverrides, OfficeHours
from onestop.catalog import Catalog, Procedure, Route, RouteStep
from onestop.clock import VN_TZ, Clock, ManualClock, SystemClock
from onestop.definitions import Definitions
from onestop.directory import Officer, StaffDirectory
from onestop.dossier import Dossier, Event, Step
from onestop.engine import Engine
from onestop.errors import (
    CalendarRangeError,
    DefinitionError,
    IdempotencyKeyReused,
    InvalidTransition,
    NotAllowedHere,
    OnestopError,
    Problem,
    StaleVersion,
    UnknownDossier,
    UnknownProcedure,
    UnknownUnit,
    ValidationError,
    VaultKeyError,
)
from onestop.periods import Period
from onestop.rules import RuleBook, RuleSet
from onestop.status import Status
from onestop.store import Store
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
    "Level",
    "OfficeHours",
    "Procedure",
    "Route",
    "RouteStep",
    "RuleBook",
    "RuleSet",
    "Unit",
    "UnitSet",
    "Units",
    # Tier 3: errors.
    "CalendarRangeError",
    "DefinitionError",
    "Forbidden",
    "IdempotencyKeyReused",
    "InvalidTransition",
    "NotAllowedHere",
    "OnestopError",
    "Problem",
    "StaleVersion",
    "UnknownDossier",
    "UnknownProcedure",
    "UnknownUnit",
    "ValidationError",
    "VaultKeyError",
    # Sub-namespaces.
    "alerts",
    "audit",
    "reports",
]
