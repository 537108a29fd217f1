"""Lateness comes from mechanisms, not from a rate typed in: with every mechanism off nothing is
late; each mechanism alone makes dossiers late where the city's report says it does; more volume
on the same officers lowers the on-time rate."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from onestop.calendar import Calendar
from onestop.definitions import Definitions
from onestop.sim.mechanisms import tet_rush_days
from onestop.sim.runner import run_replications

BASE = Path(__file__).parent / "fixtures" / "scenarios" / "mechanisms.yaml"
ROOT = Path(__file__).parent.parent

DELAY = {"kind": "lognormal", "mean": 4, "cv": 1}
MECHANISMS: dict[str, dict[str, Any]] = {
    "off": {},
    "consultation": {
        "consultation": {"share_by_field": {"land": 0.5, "construction": 0.5}, "delay_days": DELAY}
    },
    "paper": {
        "handover": {
            "digitised_share": 0.0,
            "paper_days": {"kind": "triangular", "low": 1, "mode": 2, "high": 4},
        }
    },
    "digitised": {
        "handover": {
            "digitised_share": 1.0,
            "paper_days": {"kind": "triangular", "low": 1, "mode": 2, "high": 4},
        }
    },
    "absence": {
        "absence": {"leave_days_per_year": 30, "episode_days": {"kind": "fixed", "mean": 3}}
    },
    "other_posts": {"other_posts": {"share_by_level": {"district": 0.5}, "block_hours": 4}},
}
# One officer per district agency, many elsewhere: the mechanisms acting on officers (absence,
# other posts) can only show where an agency has nobody to carry its queue.
THIN_DISTRICTS = {"default": 30, "by_level": {"district": {"desk": 1, "land": 1, "justice": 1}}}


def run(tmp_path: Path, name: str, **changes: Any) -> dict[str, Any]:
    data = yaml.safe_load(BASE.read_text())
    data["workflows"] = str(ROOT / "workflows")
    data["mechanisms"] = MECHANISMS[name]
    data.update(changes)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return run_replications(path)


def late_by_field(summary: dict[str, Any]) -> dict[str, int]:
    return {
        f: d["late"]["successes"] for f, d in summary["fields"].items() if d["late"]["successes"]
    }


def late_by_level(summary: dict[str, Any]) -> dict[str, int]:
    return {level: d["late"] for level, d in summary["levels"].items()}


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mechanisms")


def test_every_mechanism_off_nothing_late(tmp: Path) -> None:
    summary = run(tmp, "off")
    assert {level: d["resolved"] > 100 for level, d in summary["levels"].items()} == {
        "city": True,
        "district": True,
        "commune": True,
    }
    assert late_by_level(summary) == {"city": 0, "district": 0, "commune": 0}


def test_consultation_alone_makes_land_then_construction_late(tmp: Path) -> None:
    """The same share of land and construction dossiers waits for the same opinion delays; land,
    with the tighter budgets on its main step, comes out later, as the report says. Twelve
    weeks: construction's lateness is a tail (a few of ~350 dossiers), four weeks may hold none."""
    summary = run(tmp, "consultation", days=84)
    late = late_by_field(summary)
    assert set(late) <= {"land", "construction"}, late
    land, construction = (
        summary["fields"]["land"]["late"],
        summary["fields"]["construction"]["late"],
    )
    assert land["low"] > construction["high"], (land, construction)
    assert construction["successes"] > 0


def test_paper_hand_overs_make_late_what_digitisation_keeps_on_time(tmp: Path) -> None:
    """Paper files carried between buildings: late dossiers on short inter-agency routes; the same
    seed with every file digitised has none."""
    paper, digital = run(tmp, "paper"), run(tmp, "digitised")
    assert sum(late_by_level(paper).values()) > 10
    assert late_by_level(digital) == {"city": 0, "district": 0, "commune": 0}


def test_absence_alone_makes_single_officer_agencies_late(tmp: Path) -> None:
    summary = run(tmp, "absence", staffing=THIN_DISTRICTS)
    late = late_by_level(summary)
    assert late["district"] > 10 and late["city"] == 0, late


def test_other_posts_alone_make_the_level_listed_late(tmp: Path) -> None:
    summary = run(tmp, "other_posts", staffing=THIN_DISTRICTS)
    late = late_by_level(summary)
    # Lateness where officers hold other posts (thin districts), none elsewhere; its amount
    # moves with the catalog (10 late on the merged catalog of this version, seed fixed).
    assert late["district"] > 0 and late["city"] == 0 and late["commune"] == 0, late


def test_double_volume_same_officers_lowers_on_time_at_loaded_levels(tmp: Path) -> None:
    """No mechanism, officers counted explicitly (one per district and commune agency, a few
    at the city): twice the dossiers, same officers, longer queues, lower on-time rates.

    A level spread at 1,000 dossiers a year over ~80 communes gives each commune about one
    dossier in four weeks: nothing queues there whatever the volume, and its busiest officer
    is a cadastral one on a 45-day mediation that no four-week backlog can make late. So one
    ward also files at a busy ward's volume (Can Tho: ~7 commune dossiers a working day per
    commune; here 8 certifications and 8 birth registrations, one desk and one justice
    officer at about 0.6 of their time, same-day budgets): doubled, its officers cannot keep
    up and same-day dossiers run late (hand-reasoned: ρ ≈ 0.6 → 1.2)."""
    staffing = {
        "default": 1,
        "by_level": {
            "city": {
                "desk": 2,
                "land_registry": 3,
                "natural_resources": 3,
                "construction": 3,
                "planning": 2,
            }
        },
    }
    service = {"unit": "share_of_budget", "default": {"kind": "gamma", "mean": 0.15, "cv": 0.8}}
    volume = yaml.safe_load(BASE.read_text())["volume"]
    volume["per_year"] = {"city": 3000, "district": 3000, "commune": 1000}
    ward = [
        {"procedure": p, "unit": "92.NK.TANAN", "per_day": 8}
        for p in ("commune.certify-copy", "commune.birth")
    ]
    volume["arrivals"] = ward
    one = run(tmp, "off", staffing=staffing, service=service, volume=volume)
    volume["per_year"] = {k: 2 * v for k, v in volume["per_year"].items()}
    volume["arrivals"] = [{**a, "per_day": 2 * a["per_day"]} for a in ward]
    two = run(tmp, "off", staffing=staffing, service=service, volume=volume)
    units = Definitions.load(ROOT / "workflows", "cantho-2024").catalog.units
    busiest: dict[str, float] = {}
    for code, stats in one["agencies"].items():
        level = units.level_of(units.agency(code).unit).code
        busiest[level] = max(busiest.get(level, 0.0), stats["utilisation"])
    # Loaded: the busiest agency past half its time, at every level.
    assert min(busiest.values()) > 0.5 and len(busiest) == 3, busiest
    for level in ("city", "district", "commune"):
        a, b = one["levels"][level]["on_time"], two["levels"][level]["on_time"]
        assert b["high"] < a["low"], (level, a, b)


def test_tet_rush_days_are_the_working_days_before_the_holiday() -> None:
    # Tết 2025: offices closed Mon 27 Jan - Fri 31 Jan (and Sat 1 Feb); the ten working days
    # before are Mon 13 - Fri 24 January.
    calendar = Calendar.vietnam()
    days = tet_rush_days(calendar, date(2025, 1, 1), date(2025, 3, 1), 10)
    assert sorted(days) == [date(2025, 1, d) for d in (13, 14, 15, 16, 17, 20, 21, 22, 23, 24)]


def test_tet_backlog_alone_makes_dossiers_late(tmp: Path) -> None:
    """The rush before Tết on one officer per district agency: the filings of the last two weeks
    meet the week-long closure; without the rush the same officers keep up."""
    volume = yaml.safe_load(BASE.read_text())["volume"]
    volume["per_year"] = {"city": 500, "district": 6000, "commune": 500}
    common = {"start": "2025-01-02", "days": 30, "staffing": THIN_DISTRICTS, "volume": volume}
    MECHANISMS["tet"] = {"tet_backlog": {"surge": 3.0, "working_days_before": 10}}
    rush, calm = run(tmp, "tet", **common), run(tmp, "off", **common)
    a, b = rush["levels"]["district"]["on_time"], calm["levels"]["district"]["on_time"]
    assert a["high"] < b["low"], (a, b)
