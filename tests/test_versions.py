"""Effective-dated procedure versions: a dossier keeps the version in force when it was received,
and the catalog refuses versions that overlap or leave a gap.

Expected due dates are counted by hand on the 2024 calendar (Vietnam: 2 and 3 September 2024 off
for National Day; weekends off; office hours 07:00-11:00 and 13:00-17:00).
"""

from __future__ import annotations

import shutil
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from onestop import VN_TZ, DefinitionError, Definitions, Engine, ManualClock
from onestop.catalog import Change, diff
from onestop.cli import app

from .conftest import FIXTURES

ROOT = Path(__file__).parent.parent / "workflows"


def at(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=VN_TZ)


@pytest.fixture(scope="module")
def defs() -> Definitions:
    return Definitions.load(ROOT)


def test_land_mediation_dossiers_keep_their_own_versions_time_limit() -> None:
    clock = ManualClock(at(2024, 7, 31, 9, 0))
    engine = Engine.open("sqlite://", ROOT, clock=clock)
    # Received Wednesday 31 July 2024: Land Law 2013 Art. 202 / Decree 43/2014 Art. 61 (as
    # amended by Decree 01/2017), 45 days with days off and holidays not counted. Working days
    # after 31 July: Aug 1-2 (2), 5-9 (7), 12-16 (12), 19-23 (17), 26-30 (22); Sep 2-3 off;
    # Sep 4-6 (25), 9-13 (30), 16-20 (35), 23-27 (40), 30 (41); Oct 1-3 (44), Oct 4 (45).
    before = engine.receive("commune.land-mediation", "92.NK.TANAN")
    assert before.procedure_version == 1
    assert before.due_at == at(2024, 10, 4, 9, 0)
    # Received Thursday 1 August 2024: Land Law 2024 Art. 235, 30 days ("ngày" alone: calendar
    # days). 1 Aug + 30 = Saturday 31 Aug; Sunday 1 Sep; 2-3 Sep National Day; so the close of
    # Wednesday 4 September.
    clock.set(at(2024, 8, 1, 9, 0))
    after = engine.receive("commune.land-mediation", "92.NK.TANAN")
    assert after.procedure_version == 2
    assert after.due_at == at(2024, 9, 4, 17, 0)
    # The first dossier still runs on its own version after the switch.
    clock.set(at(2024, 8, 2, 9, 0))
    moved = engine.complete_step(before.id)
    assert (moved.procedure_version, moved.due_at) == (1, at(2024, 10, 4, 9, 0))


def test_the_version_in_force_is_read_by_day(defs: Definitions) -> None:
    catalog = defs.catalog
    assert catalog.get("commune.land-mediation", at=date(2024, 7, 31)).statutory_days == 45
    assert catalog.get("commune.land-mediation", at=date(2024, 8, 1)).statutory_days == 30
    # Circular 75/2022/TT-BTC, in force from 5 Feb 2023: 20,000 VND at the counter, 10,000 online.
    residence = catalog.get("commune.permanent-residence", at=date(2023, 2, 5))
    assert (residence.fee_for("counter"), residence.fee_for("online")) == (20_000, 10_000)
    assert catalog.get("commune.permanent-residence", at=date(2023, 2, 4)).fee_for("online") == 0
    # Driving licences pass from the transport department to the police on 1 March 2025.
    for day, role, agency in ((date(2025, 2, 28), "transport", "92.TRANSPORT"),
                              (date(2025, 3, 1), "police", "92.POLICE")):  # fmt: skip
        proc = catalog.get("city.driving-licence-exchange", at=day)
        step = proc.route.steps[1]
        assert step.role == role
        assert catalog.step_agency(proc, step, "92").code == agency


def test_catalog_diff_lists_what_changed_on_1_august_2024(defs: Definitions) -> None:
    changes = diff(defs.catalog, date(2024, 7, 31), date(2024, 8, 1))
    mediation = [c for c in changes if c.code == "commune.land-mediation"]
    assert [(c.field, c.before, c.after) for c in mediation if c.field != "source"] == [
        ("version", "1", "2"),
        ("statutory_days", "45", "30"),
        ("time_unit", "working_days", "calendar_days"),
        ("route", "desk(0.5) → cadastral(43.5) → leader(1)", "desk(0.5) → cadastral(18.5) → leader(1)"),
    ]  # fmt: skip
    assert {c.code for c in changes} == {
        "commune.land-mediation",
        "city.land-change-org",
        "city.land-first-org",
        "district.land-first",
        "district.land-transfer",
        "district.land-certificate-reissue",
    }
    assert diff(defs.catalog, date(2024, 8, 1), date(2024, 8, 2)) == []


def test_catalog_diff_command(defs: Definitions) -> None:
    runner = CliRunner()
    result = runner.invoke(
        app, ["catalog", "diff", "--at", "2025-02-28", "--at", "2025-03-01", str(ROOT)]
    )
    assert result.exit_code == 0, result.output
    assert "Catalog changes 2025-02-28 → 2025-03-01: 6" in result.output  # 2 licences × 3
    assert "transport" in result.output and "police" in result.output
    switch = runner.invoke(
        app, ["catalog", "diff", "--at", "2025-06-30", "--at", "2025-07-01", str(ROOT)]
    )
    assert switch.exit_code == 0, switch.output
    assert "unit set: cantho-2024 → cantho-2025-merged" in switch.output  # the manifest timeline
    bad = runner.invoke(app, ["catalog", "diff", "--at", "2025-06-30", str(ROOT)])
    assert bad.exit_code == 2 and "give exactly two days, got 1" in bad.output


def test_diff_across_unit_sets_reports_procedures_gone(defs: Definitions) -> None:
    changes = diff(
        defs.catalog, date(2025, 6, 30), date(2025, 7, 1), defs.catalogs["cantho-2025-two-tier"]
    )
    assert Change("district.land-transfer", "level", "district", "commune") in changes


# -- refusals ------------------------------------------------------------------------------


def copy_fixtures(tmp_path: Path) -> Path:
    root = tmp_path / "workflows"
    shutil.copytree(FIXTURES, root)
    return root


def with_versions(root: Path, versions: list[dict[str, Any]]) -> None:
    """Give the fixture's COPY procedure (procedures[1]) these versions."""
    path = root / "procedures" / "tiny.yaml"
    data = yaml.safe_load(path.read_text())
    data["procedures"][1]["versions"] = versions
    path.write_text(yaml.safe_dump(data, allow_unicode=True))


def problems(root: Path) -> list[str]:
    with pytest.raises(DefinitionError) as err:
        Definitions.load(root)
    return [str(p) for p in err.value.problems]


@pytest.mark.parametrize(
    "versions, expected",
    [
        (
            [{"valid_to": "2024-07-31"}, {"valid_from": "2024-07-31"}],
            "procedures/tiny.yaml: procedures[1].versions[1].valid_from: version 2 of 'COPY' "
            "(from 2024-07-31) overlaps version 1 (in force until 2024-07-31)",
        ),
        (
            [{}, {"valid_from": "2024-08-01"}],
            "procedures/tiny.yaml: procedures[1].versions[1].valid_from: version 2 of 'COPY' "
            "(from 2024-08-01) overlaps version 1 (in force until further notice)",
        ),
        (
            [{"valid_to": "2024-07-30"}, {"valid_from": "2024-08-01"}],
            "procedures/tiny.yaml: procedures[1].versions[1].valid_from: no version of 'COPY' is "
            "in force from 2024-07-31 to 2024-07-31 (gap between version 1 and version 2)",
        ),
        (
            [{"valid_from": "2024-08-01", "valid_to": "2024-07-01"}],
            "procedures/tiny.yaml: procedures[1].versions[0]: valid_to 2024-07-01 is before "
            "valid_from 2024-08-01",
        ),
        (
            [],
            "procedures/tiny.yaml: procedures[1].versions: expected a non-empty list of versions",
        ),
    ],
)
def test_overlapping_or_gapped_versions_are_refused(
    tmp_path: Path, versions: list[dict[str, Any]], expected: str
) -> None:
    root = copy_fixtures(tmp_path)
    with_versions(root, versions)
    found = problems(root)
    assert any(p.endswith(expected) for p in found), found


def test_adjacent_versions_load(tmp_path: Path) -> None:
    root = copy_fixtures(tmp_path)
    with_versions(root, [{"valid_to": "2024-07-31"}, {"valid_from": "2024-08-01", "fee_vnd": 5}])
    catalog = Definitions.load(root).catalog
    assert [p.version for p in catalog.all_versions() if p.code == "COPY"] == [1, 2]
    assert catalog.get("COPY", at=date(2024, 8, 1)).fee_vnd == 5


def test_catalog_check_names_the_overlap(tmp_path: Path) -> None:
    root = copy_fixtures(tmp_path)
    with_versions(root, [{}, {"valid_from": "2024-08-01"}])
    result = CliRunner().invoke(app, ["catalog", "check", str(root)])
    assert result.exit_code == 2
    assert "procedures[1].versions[1].valid_from: version 2 of 'COPY'" in result.output


def test_unit_set_interval_and_mapping_dates_are_checked(tmp_path: Path) -> None:
    root = tmp_path / "workflows"
    shutil.copytree(ROOT, root)
    path = root / "units" / "cantho-2025-mapping.yaml"
    path.write_text(path.read_text().replace("effective: '2025-07-01'", "effective: '2025-07-02'"))
    found = problems(root)
    assert any(
        p.endswith(
            "cantho-2025-mapping.yaml: effective: the mapping takes effect on 2025-07-02 but unit "
            "set 'cantho-2025-two-tier' is valid from 2025-07-01"
        )
        for p in found
    ), found
    units = root / "units" / "cantho-2024.yaml"
    units.write_text(units.read_text().replace("valid_to: '2025-06-30'", "valid_to: '2020-06-30'"))
    assert any(
        "cantho-2024.yaml: valid_to 2020-06-30 is before valid_from 2021-01-01" in p
        for p in problems(root)
    )
