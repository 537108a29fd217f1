"""Definitions are validated when loaded, with the file, the key path and the reason."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from onestop import DefinitionError, Definitions, Status
from onestop.catalog import Procedure

from .conftest import FIXTURES

# A definition file as parsed YAML, and an edit made to it in place.
YamlDoc = dict[str, Any]
Change = Callable[[YamlDoc], object]


def copy_fixtures(tmp_path: Path) -> Path:
    root = tmp_path / "workflows"
    shutil.copytree(FIXTURES, root)
    return root


def edit(path: Path, change: Change) -> None:
    data: YamlDoc = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True))


def problems_of(root: Path) -> list[str]:
    with pytest.raises(DefinitionError) as err:
        Definitions.load(root)
    return [str(p) for p in err.value.problems]


def test_fixture_catalog_loads() -> None:
    defs = Definitions.load(FIXTURES)
    assert defs.default_unit_set == "tiny"
    assert {p.code for p in defs.catalog.procedures()} == {
        "BIRTH",
        "COPY",
        "LAND",
        "JUDICIAL",
        "BUILD",
    }
    units = defs.units
    assert [u.code for u in units.children("D1")] == ["W1", "W2"]
    district = units.ancestor_at("W3", "district")
    assert district is not None and district.code == "D2"
    proc = defs.catalog.get("BIRTH")
    agency = defs.catalog.step_agency(proc, proc.route.steps[3], "W2")
    assert agency.code == "D1-BHXH"


@pytest.mark.parametrize(
    "file, change, expected",
    [
        (
            "procedures/tiny.yaml",
            lambda d: d["procedures"][2]["route"]["steps"][1].update(budget=5),
            "procedures/tiny.yaml: procedures[2]: step budgets sum to 9 working days, the statutory time is 10",
        ),
        (
            "procedures/tiny.yaml",
            lambda d: d["procedures"][0]["route"]["steps"][1].update(role="astrology"),
            "procedures[0].route.steps[1].role: no 'astrology' agency at level 'commune' for 3 of 3",
        ),
        (
            "procedures/tiny.yaml",
            lambda d: d["procedures"][1].update(level="galaxy"),
            "procedures[1].level: unknown level 'galaxy'",
        ),
        (
            "procedures/tiny.yaml",
            lambda d: d["procedures"].append(dict(d["procedures"][1])),
            "procedures[5].code: duplicate procedure 'COPY' version 1",
        ),
        (
            "procedures/tiny.yaml",
            lambda d: d["procedures"][0]["route"]["steps"][0].update(agency="NOPE", role=None),
            "procedures[0].route.steps[0].agency: unknown agency 'NOPE'",
        ),
        (
            "procedures/tiny.yaml",
            lambda d: d["procedures"][0].update(statutory_days="three"),
            "procedures[0].statutory_days: Input should be a valid number",
        ),
        (
            "procedures/tiny.yaml",
            lambda d: d["procedures"][0].update(colour="blue"),
            "procedures[0].colour: Extra inputs are not permitted",
        ),
        (
            "units/tiny.yaml",
            lambda d: d["units"][3].update(parent="ZZ"),
            "units/tiny.yaml: units[3].parent: unknown unit 'ZZ'",
        ),
        (
            "units/tiny.yaml",
            lambda d: d["units"][1].update(parent="W1"),
            "units[1].parent: parent 'W1' (commune) is not above 'district'",
        ),
        (
            "units/tiny.yaml",
            lambda d: d["agencies"][0].update(unit="Q9"),
            "agencies[0].unit: unknown unit 'Q9'",
        ),
        (
            "units/tiny.yaml",
            lambda d: d["units"].append(dict(d["units"][0])),
            "units[6].code: duplicate unit 'C'",
        ),
        (
            "procedures/tiny.yaml",
            lambda d: d["procedures"][2].update(field="astrology"),
            "procedures/tiny.yaml: procedures[2].field: unknown field 'astrology': add it to a "
            "fields file (fields.yaml)",
        ),
        (
            "fields.yaml",
            lambda d: d["fields"].append(dict(d["fields"][0])),
            "fields.yaml: fields[5].code: duplicate field 'civil_status'",
        ),
        (
            "fields.yaml",
            lambda d: d["fields"][1].update(name_vi=""),
            "fields.yaml: fields[1].name_vi: String should have at least 1 character",
        ),
    ],
)
def test_bad_definitions_name_file_path_and_reason(
    tmp_path: Path,
    file: str,
    change: Change,
    expected: str,
) -> None:
    root = copy_fixtures(tmp_path)
    edit(root / file, change)
    found = problems_of(root)
    assert any(expected in p for p in found), found


def test_location_independent_on_a_level_that_forbids_it(tmp_path: Path) -> None:
    root = copy_fixtures(tmp_path)
    edit(root / "units/tiny.yaml", lambda d: d["levels"][2].update(location_independent=False))
    edit(
        root / "procedures/tiny.yaml",
        lambda d: d["procedures"][1].update(location_independent=True),
    )
    assert any(
        "procedures[1].location_independent: level 'commune' does not allow" in p
        for p in problems_of(root)
    )


def test_malformed_yaml_reports_line(tmp_path: Path) -> None:
    root = copy_fixtures(tmp_path)
    (root / "procedures/broken.yaml").write_text("unit_set: tiny\nprocedures: [\n  {code: X\n")
    found = problems_of(root)
    assert any("broken.yaml: line" in p and "invalid YAML" in p for p in found), found


def test_unrecognised_file_and_unknown_unit_set(tmp_path: Path) -> None:
    root = copy_fixtures(tmp_path)
    (root / "notes.yaml").write_text("hello: world\n")
    (root / "procedures/other.yaml").write_text(
        (root / "procedures/tiny.yaml").read_text().replace("unit_set: tiny", "unit_set: nowhere")
    )
    found = problems_of(root)
    assert any("notes.yaml: unrecognised definition file" in p for p in found)
    assert any("other.yaml: unit_set: unknown unit set 'nowhere'" in p for p in found)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    root = copy_fixtures(tmp_path)

    def break_two(d: YamlDoc) -> None:
        d["procedures"][0]["level"] = "galaxy"
        d["procedures"][1]["statutory_days"] = 7

    edit(root / "procedures/tiny.yaml", break_two)
    assert len(problems_of(root)) == 2


def test_missing_directory() -> None:
    with pytest.raises(DefinitionError, match="no such file or directory"):
        Definitions.load("/nonexistent/workflows")


def test_lifecycle_statuses_follow_the_procedure() -> None:
    catalog = Definitions.load(FIXTURES).catalog
    copy = catalog.lifecycle(catalog.get("COPY"))  # one step, no online, no post
    assert Status.PROCESSING not in copy.statuses
    assert Status.SUBMITTED not in copy.statuses
    assert Status.DISPATCHED not in copy.statuses
    land = catalog.lifecycle(catalog.get("LAND"))
    assert {Status.PROCESSING, Status.SUBMITTED, Status.DISPATCHED} <= land.statuses
    for status in Status:
        assert isinstance(status.portal_code, int)
    assert Status.RETURNED.portal_code == 10 and Status.SUBMITTED.portal_code == 1


def test_step_needs_exactly_one_owner() -> None:
    data = yaml.safe_load((FIXTURES / "procedures/tiny.yaml").read_text())["procedures"][1]
    data["route"]["steps"][0]["agency"] = "W1-DESK"
    with pytest.raises(ValueError, match="exactly one of 'role' or 'agency'"):
        Procedure.model_validate(data)
