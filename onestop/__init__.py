"""onestop: a workflow engine for Vietnam's one-stop-shop processing of administrative dossiers.

The scheduler (``onestop.scheduler``), the simulator (``onestop.sim``) and the test helpers
(``onestop.testing``) are imported on demand. The public API::

    from onestop import Engine, ManualClock, VN_TZ
    engine = Engine.open("sqlite:///onestop.db", "workflows")
    dossier = engine.receive("1.001", "31117")
"""

from onestop.access import Actor, Forbidden, OneStopPolicy, Policy
from onestop.alerts import (
    Alert,
    AlertSweeper,
    CallbackNotifier,
    LogNotifier,
    Notifier,
    WebhookNotifier,
)
from onestop.audit import Finding, verify
from onestop.calendar import Calendar, CalendarOverrides, OfficeHours
from onestop.catalog import Catalog, Procedure, Route, Step
from onestop.clock import VN_TZ, Clock, ManualClock, SystemClock
from onestop.commands import Applicant
from onestop.definitions import Definitions
from onestop.dossier import Dossier, Event
from onestop.engine import Engine
from onestop.errors import (
    CalendarRangeError,
    DefinitionError,
    InvalidTransition,
    NotAllowedHere,
    OnestopError,
    Problem,
    RuleViolation,
    StaleVersion,
    UnknownDossier,
    UnknownProcedure,
    UnknownUnit,
    ValidationError,
)
from onestop.lifecycle import Lifecycle, Status
from onestop.reports import Period, Report, full_report, on_time_report
from onestop.rules import RuleBook, RuleSet
from onestop.store import Store
from onestop.timeliness import Timeliness
from onestop.units import Agency, Level, Unit, Units, UnitSet

__all__ = [
    "VN_TZ",
    "Alert",
    "AlertSweeper",
    "CallbackNotifier",
    "Finding",
    "LogNotifier",
    "Notifier",
    "Period",
    "Report",
    "WebhookNotifier",
    "full_report",
    "on_time_report",
    "verify",
    "Actor",
    "Forbidden",
    "OneStopPolicy",
    "Policy",
    "Agency",
    "Applicant",
    "Calendar",
    "CalendarOverrides",
    "CalendarRangeError",
    "Catalog",
    "Clock",
    "DefinitionError",
    "Definitions",
    "Dossier",
    "Engine",
    "Event",
    "InvalidTransition",
    "Level",
    "Lifecycle",
    "ManualClock",
    "NotAllowedHere",
    "OfficeHours",
    "OnestopError",
    "Problem",
    "Procedure",
    "Route",
    "RuleBook",
    "RuleSet",
    "RuleViolation",
    "StaleVersion",
    "Status",
    "Step",
    "Store",
    "SystemClock",
    "Timeliness",
    "Unit",
    "UnitSet",
    "Units",
    "UnknownDossier",
    "UnknownProcedure",
    "UnknownUnit",
    "ValidationError",
]
