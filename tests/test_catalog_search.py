"""Discoverable codes: ``onestop catalog list`` and ``Catalog.search``, diacritics optional;
and the package docstring's example runs."""

from __future__ import annotations

import doctest
import json

import pytest
from freezegun import freeze_time
from typer.testing import CliRunner

import onestop
from onestop.catalog import Catalog
from onestop.catalog_search import Found, fold, matches, words
from onestop.cli import app
from onestop.defaults import workflows_dir
from onestop.definitions import Definitions
from onestop.errors import UnknownUnit, ValidationError

runner = CliRunner()
# The business-household procedures of the bundled catalog, read off workflows/procedures/
# district.yaml by hand.
BUSINESS_HOUSEHOLD = ["district.business-household", "district.business-household-change"]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Definitions.load(workflows_dir()).catalog


def codes(found: list[Found]) -> list[str]:
    return [f.code for f in found]


def listed(*args: str) -> list[str]:
    result = runner.invoke(app, ["catalog", "list", *args, "--json"])
    assert result.exit_code == 0, result.output
    return [row["code"] for row in json.loads(result.stdout)]


def test_the_package_docstring_example_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ONESTOP_AUDIT_KEY", raising=False)  # as a reader trying it has none
    result = doctest.testmod(onestop, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 8
    assert result.failed == 0


def test_fold_drops_diacritics_and_reads_d_bar_as_d() -> None:
    assert fold("Đăng ký thành lập hộ kinh doanh") == "dang ky thanh lap ho kinh doanh"
    assert fold("ĐỒNG THÁP Ủy ban") == "dong thap uy ban"
    assert fold("Quận Ô Môn") == "quan o mon"
    assert words("district.business-household") == ["district", "business", "household"]
    assert matches(["kinh", "doa"], ["kinh", "doanh"])  # three letters: a prefix is enough
    assert not matches(["ho"], ["hoa", "don"])  # two letters: whole words only
    assert not matches(["kinh", "doanh", "x"], ["kinh", "doanh"])


@pytest.mark.parametrize(
    "text",
    ["ho kinh doanh", "dang ky ho kinh doanh", "HỘ KINH DOANH", "Đăng ký hộ kinh doanh", "hộ kinh"],
)
def test_search_ho_kinh_doanh_finds_the_business_household_procedures(
    text: str, catalog: Catalog
) -> None:
    assert codes(catalog.search(text=text)) == BUSINESS_HOUSEHOLD


def test_catalog_list_procedures_search_ho_kinh_doanh() -> None:
    assert listed("procedures", "--search", "ho kinh doanh") == BUSINESS_HOUSEHOLD


def test_the_table_shows_codes_and_names() -> None:
    result = runner.invoke(
        app, ["catalog", "list", "procedures", "--search", "ho kinh doanh", "--on", "2025-06-30"]
    )
    assert result.exit_code == 0, result.output
    assert "2 procedures of cantho-2024 (in force on 2025-06-30) matching 'ho kinh doanh'" in (
        " ".join(result.output.split())
    )
    for code in BUSINESS_HOUSEHOLD:
        assert code in result.output
    assert "Đăng ký thành lập hộ" in result.output


def test_filters_by_level_and_unit(catalog: Catalog) -> None:
    assert codes(catalog.search(text="khai sinh", level="commune")) == [
        "commune.birth",
        "commune.birth-residence-insurance",
    ]
    assert catalog.search(text="ho kinh doanh", level="commune") == []
    assert codes(catalog.search(text="ho kinh doanh", unit="92.NK")) == BUSINESS_HOUSEHOLD
    assert codes(catalog.search("units", level="district")) == [
        "92.BT", "92.CD", "92.CR", "92.NK", "92.OM", "92.PD", "92.TL", "92.TN", "92.VT",
    ]  # fmt: skip
    assert codes(catalog.search("units", text="truong xuan")) == [
        "92.TL.TRUONGXUAN",
        "92.TL.TRUONGXUANA",
        "92.TL.TRUONGXUANB",
    ]
    assert codes(catalog.search("units", text="ninh kieu")) == ["92.NK"]
    assert len(catalog.search("units", unit="92.TL")) == 14  # the district and its 13 units
    assert codes(catalog.search("agencies", unit="92.NK", text="tai nguyen")) == [
        "92.NK.NATURAL_RESOURCES"
    ]


def test_catalog_list_json_rows() -> None:
    result = runner.invoke(
        app, ["catalog", "list", "agencies", "--unit", "92.NK", "--search", "thue", "--json",
              "--unit-set", "cantho-2024"]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stderr == "catalog: cantho-2024\n"
    assert json.loads(result.stdout) == [
        {
            "kind": "agency",
            "code": "92.NK.TAX",
            "name": "Chi cục Thuế Quận Ninh Kiều",
            "name_en": "",
            "level": "district",
            "unit": "92.NK",
            "detail": "tax",
        }
    ]


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["things"], "error: 'things' is not one of procedures, units, agencies"),
        (
            ["--level", "province", "--on", "2025-06-30"],
            "error: --level: 'province' is not one of city, district, commune",
        ),
        (
            ["--level", "district", "--on", "2025-07-01"],  # the district level was abolished
            "error: --level: 'district' is not one of city, commune",
        ),
        (["--on", "2025-02-30"], "error: --on: '2025-02-30' is not a date (YYYY-MM-DD)"),
        (["--on", "1899-12-31"], "error: --on: 1899-12-31 is outside the years 1900..9998"),
        (
            ["--on", "2025-07-01", "--unit-set", "cantho-2024"],
            "error: --on: give --on (the catalog in force that day) or --unit-set, not both",
        ),
        (
            ["agencies", "--unit", "92.XX", "--on", "2025-06-30"],
            "error: --unit: unknown unit '92.XX' in unit set 'cantho-2024'",
        ),
    ],
)
def test_bad_filters_get_one_line(args: list[str], line: str) -> None:
    result = runner.invoke(app, ["catalog", "list", *args])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [line]


# -- the default catalog: the one in force today, per the manifest's timeline ----------------
# workflows/manifest.yaml: timeline [cantho-2024, cantho-2025-merged], the merged city from
# 1 July 2025 (Vietnam time). Ninh Kiều is district 92.NK before, ward 92.NINHKIEU after.


@pytest.mark.parametrize(
    ("now", "catalog", "units"),
    [
        ("2025-06-30T16:59:59+00:00", "cantho-2024 (in force on 2025-06-30)", ["92.NK"]),
        # 00:00 in Vietnam on 1 July is still 30 June in UTC.
        ("2025-06-30T17:00:00+00:00", "cantho-2025-merged (in force on 2025-07-01)",
         ["92.NINHKIEU"]),
        ("2026-11-24T03:00:00+00:00", "cantho-2025-merged (in force on 2026-11-24)",
         ["92.NINHKIEU"]),
    ],
)  # fmt: skip
def test_the_default_catalog_is_the_one_in_force_today(
    now: str, catalog: str, units: list[str]
) -> None:
    with freeze_time(now):
        result = runner.invoke(app, ["catalog", "list", "units", "--search", "ninh kieu", "--json"])
    assert result.exit_code == 0, result.output
    assert result.stderr == f"catalog: {catalog}\n"
    assert [row["code"] for row in json.loads(result.stdout)] == units


def test_on_picks_another_day_whatever_today_is() -> None:
    with freeze_time("2025-08-01T03:00:00+00:00"):
        before = runner.invoke(app, ["catalog", "list", "units", "--search", "ninh kieu",
                                     "--on", "2025-06-30"])  # fmt: skip
        default = runner.invoke(app, ["catalog", "list", "units", "--search", "ninh kieu"])
    assert before.exit_code == default.exit_code == 0, before.output + default.output
    assert "1 units of cantho-2024 (in force on 2025-06-30) matching 'ninh kieu'" in " ".join(
        before.stdout.split()
    )
    assert "Quận Ninh Kiều" in before.stdout and "92.NINHKIEU" not in before.stdout
    assert "1 units of cantho-2025-merged (in force on 2025-08-01) matching 'ninh kieu'" in (
        " ".join(default.stdout.split())
    )
    assert "Phường Ninh Kiều" in default.stdout


def test_the_python_api_raises_typed_errors(catalog: Catalog) -> None:
    with pytest.raises(ValidationError, match="kind"):
        catalog.search("offices")  # type: ignore[arg-type]
    with pytest.raises(UnknownUnit):
        catalog.search("units", unit="nowhere")
