"""Where lateness comes from: the mechanisms the city's report names, as scenario parameters.

Can Tho's report attributes late dossiers to heavy, complex files needing site visits and other
agencies' opinions, to overloaded officers holding several posts, and to slow inter-agency
coordination. Each is a mechanism here, with parameters in physical units (working days,
working hours, shares of dossiers or of an officer's time), never a late rate: a dossier is late
only when the delays a mechanism draws, plus the queues, exceed the time the law gives it.
Every parameter's meaning and unit is in its docstring; its value and source are in the scenario.
"""

from __future__ import annotations

from datetime import date, timedelta

from pydantic import BaseModel, ConfigDict, Field

from onestop.calendar import Calendar
from onestop.sim.distribution import Distribution


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ExternalRound(_Model):
    """A wait outside the officer's desk during the main step of a procedure (the step with the
    largest budget): another agency's written opinion, or a site visit. The file waits; no
    officer is held, except ``officer_hours`` of work to prepare it.

    Attributes:
        share_by_field: Probability (share of the field's dossiers, 0..1) that a dossier of a
            field needs one.
        share_default: The same for fields not listed.
        delay_days: Working days from the request to the reply (or the visit's report).
        extra_round_share: Probability of one more round after each round (0..1).
        officer_hours: Working hours of officer time per round (drafting, travelling).
        source: Where the values come from (publication, or the data they were fitted on).
    """

    share_by_field: dict[str, float] = Field(default_factory=dict)
    share_default: float = Field(default=0.0, ge=0, le=1)
    delay_days: Distribution
    extra_round_share: float = Field(default=0.0, ge=0, lt=1)
    officer_hours: float = Field(default=0.0, ge=0)
    source: str = ""

    def share(self, field: str) -> float:
        """Probability that a dossier of ``field`` needs a round."""
        return self.share_by_field.get(field, self.share_default)


class Absence(_Model):
    """Officers on leave or sick: while absent, an officer takes no file, and the agency's other
    officers (if any) carry its queue.

    Attributes:
        leave_days_per_year: Working days each officer is away a year.
        episode_days: Working days of one absence.
        covered_share: Share of absences during which a colleague from another post takes over
            (0..1): those cost the agency nothing.
        source: Where the values come from.
    """

    leave_days_per_year: float = Field(ge=0, le=100)
    episode_days: Distribution
    covered_share: float = Field(default=0.0, ge=0, le=1)
    source: str = ""


class OtherPosts(_Model):
    """Officers holding several posts (kiêm nhiệm): part of each officer's working time goes to
    another post, in blocks during which they take no file of this agency.

    Attributes:
        share_by_level: Share of an officer's working time spent on other posts (0..1), by
            level of the agency.
        block_hours: Working hours of one block on the other post.
        source: Where the values come from.
    """

    share_by_level: dict[str, float] = Field(default_factory=dict)
    block_hours: float = Field(default=4.0, gt=0)
    source: str = ""


class Handover(_Model):
    """Hand-overs between steps held by different agencies (Form 05).

    Attributes:
        digital_hours: Working hours a file takes to reach the next agency when it is digitised
            or stays in the same unit (signing out, the receiving officer opening it).
        digitised_share: Share of dossiers handled as digitised files (0..1; published by year:
            8.83 % 2022, 41.47 % 2023, 77.38 % 2024, 86.46 % 2025). Online submissions are
            always digitised; the paper files are counter submissions.
        paper_days: Working days to carry a paper file to an agency of another unit, or of the
            same unit at a level listed in ``carried_within_levels``.
        carried_within_levels: Levels whose agencies sit in separate buildings (a city's
            service centre and its departments), so a paper file is carried even within a unit.
        source: Where the values come from.
    """

    digital_hours: Distribution = Distribution(kind="fixed", mean=0.01)
    digitised_share: float = Field(default=1.0, ge=0, le=1)
    paper_days: Distribution
    carried_within_levels: tuple[str, ...] = ("city",)
    source: str = ""


class TetBacklog(_Model):
    """The rush before Tết: applicants file before the holiday, so arrivals in the last working
    days before it rise, and the week-long closure follows.

    Attributes:
        surge: Arrival multiplier in those working days (1 = no rush).
        working_days_before: How many working days before the holiday the rush lasts.
        source: Where the values come from.
    """

    surge: float = Field(ge=1, le=10)
    working_days_before: int = Field(default=10, ge=1, le=60)
    source: str = ""


class Mechanisms(_Model):
    """The lateness mechanisms of a scenario; each is off when absent."""

    consultation: ExternalRound | None = None
    site_visit: ExternalRound | None = None
    absence: Absence | None = None
    other_posts: OtherPosts | None = None
    handover: Handover | None = None
    tet_backlog: TetBacklog | None = None


def tet_rush_days(calendar: Calendar, first: date, last: date, working_days: int) -> set[date]:
    """The ``working_days`` working days before each Tết holiday between ``first`` and ``last``.

    Tết is found in the calendar as the first run of at least three consecutive weekdays off
    between 15 January and 25 February (the lunar new year's closure), so a scenario needs no
    lunar dates of its own.
    """
    rush: set[date] = set()
    for year in range(first.year, last.year + 1):
        day, end = date(year, 1, 15), date(year, 2, 25)
        start = None
        while day <= end:
            run = [day + timedelta(days=k) for k in range(5)]
            weekdays = [d for d in run if d.weekday() < 5]
            closed = sum(not calendar.is_working_day(d) for d in weekdays)
            if closed >= 3 and day.weekday() < 5 and not calendar.is_working_day(day):
                start = day
                break
            day += timedelta(days=1)
        if start is None:
            continue
        day = start - timedelta(days=1)
        while len([d for d in rush if d.year == start.year]) < working_days:
            if calendar.is_working_day(day):
                rush.add(day)
            day -= timedelta(days=1)
    return rush
