"""The real Can Tho definitions load, validate, and have the published shape."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from onestop import Definitions
from onestop.cli import app

ROOT = Path(__file__).parent.parent / "workflows"

COMMUNES_PER_DISTRICT = {
    "Quận Ninh Kiều": 8,
    "Quận Bình Thủy": 8,
    "Quận Cái Răng": 7,
    "Quận Ô Môn": 7,
    "Quận Thốt Nốt": 9,
    "Huyện Phong Điền": 7,
    "Huyện Cờ Đỏ": 10,
    "Huyện Thới Lai": 13,
    "Huyện Vĩnh Thạnh": 11,
}


@pytest.fixture(scope="module")
def defs() -> Definitions:
    return Definitions.load(ROOT)


def test_units_2024(defs: Definitions) -> None:
    units = defs.unit_sets["cantho-2024"]
    districts = units.units_at("district")
    assert len(districts) == 9
    assert Counter(d.kind for d in districts) == {"urban_district": 5, "rural_district": 4}
    assert {d.name: len(units.children(d.code)) for d in districts} == COMMUNES_PER_DISTRICT
    communes = units.units_at("commune")
    assert Counter(c.kind for c in communes) == {"ward": 39, "town": 5, "commune": 36}
    ninh_kieu = next(d for d in districts if d.name == "Quận Ninh Kiều")
    assert {c.name for c in units.children(ninh_kieu.code)} >= {"Phường Tân An", "Phường Thới Bình"}
    # Every commune has a desk, a leader, a civil-status officer and police.
    for c in communes:
        for role in ("desk", "leader", "justice", "police"):
            assert units.agency_for(role, c.code) is not None, (c.code, role)
    assert units.agency_for("post", "92") is not None


def test_procedures_have_the_city_list_shape(defs: Definitions) -> None:
    procs = defs.catalog.procedures()
    assert len(procs) >= 30
    li = Counter(p.level for p in procs if p.location_independent)
    assert li == {"city": 34, "district": 7, "commune": 3}
    assert all(p.source for p in procs)
    fields = {p.field for p in procs}
    assert {
        "civil_status",
        "certification",
        "business_household",
        "enterprise",
        "construction",
        "land",
        "judicial_records",
        "social_protection",
    } <= fields
    chains = {p.code for p in procs if p.route.inter_agency}
    assert {
        "commune.birth-residence-insurance",
        "district.land-transfer",
        "city.judicial-record-li",
    } <= chains
    birth = defs.catalog.get("commune.birth-residence-insurance")
    roles = [s.role for s in birth.route.steps]
    assert roles == ["desk", "justice", "police", "social_insurance"]
    land = defs.catalog.get("district.land-transfer")
    assert [s.role for s in land.route.steps] == ["desk", "land", "tax", "land", "desk"]


def test_one_reading_of_ngay(defs: Definitions) -> None:
    # Law on Judicial Records 2009 Art. 48 "không quá 10 ngày" and Construction Law Art. 102
    # "15 ngày" / "20 ngày" say "ngày" alone: both calendar days (onestop.catalog.TIME_READING).
    units = {
        code: defs.catalog.get(code).time_unit
        for code in ("city.judicial-record", "city.judicial-record-li", "city.construction-permit")
    }
    assert units == dict.fromkeys(units, "calendar_days")
    two_tier = defs.catalogs["cantho-2025-two-tier"]
    assert two_tier.get("city.judicial-record").time_unit == "calendar_days"
    assert two_tier.get("commune.land-mediation").statutory_days == 30  # Land Law 2024 Art. 235


def test_passports_are_taken_by_the_police_not_at_commune_desks(defs: Definitions) -> None:
    # Law on Exit and Entry 2019 Art. 15: the provincial police immigration office, or online.
    for catalog in (defs.catalog, defs.catalogs["cantho-2025-two-tier"]):
        passport = catalog.get("city.passport")
        assert passport.intake_levels == ("city",)
        assert catalog.step_agency(passport, passport.route.steps[0], "92").code == "92.POLICE"
        copy = catalog.get("commune.certify-copy")
        assert copy.online == "partial"  # Decree 23/2015 Art. 20: the original is shown
        licence = catalog.get("city.driving-licence-exchange")
        assert licence.route.steps[1].role == "police"  # from 1 March 2025


def test_two_tier_reorganisation(defs: Definitions) -> None:
    two_tier = defs.unit_sets["cantho-2025-two-tier"]
    assert set(two_tier.levels) == {"city", "commune"}
    assert len(two_tier.units_at("commune")) == 32
    mapping = defs.mappings["cantho-2025-reorganisation"]
    old_communes = {u.code for u in defs.unit_sets["cantho-2024"].units_at("commune")}
    assert {e.old for e in mapping.units} >= old_communes
    ninh_kieu = {e.old for e in mapping.units if e.new == "92.NINHKIEU"}
    assert ninh_kieu == {"92.NK.TANAN", "92.NK.THOIBINH", "92.NK.XUANKHANH"}


def test_catalog_check_command_prints_summary() -> None:
    result = CliRunner().invoke(app, ["catalog", "check", str(ROOT)])
    assert result.exit_code == 0, result.output
    assert "all definitions valid" in result.output
    assert "liên thông" in result.output
    assert "cantho-2025-reorganisation" in result.output


def test_catalog_check_rejects_a_malformed_file(tmp_path: Path) -> None:
    root = tmp_path / "workflows"
    shutil.copytree(ROOT, root)
    path = root / "procedures" / "district.yaml"
    path.write_text(path.read_text().replace("statutory_days: 3", "statutory_days: 4", 1))
    result = CliRunner().invoke(app, ["catalog", "check", str(root)])
    assert result.exit_code == 2
    assert "district.yaml: procedures[0]: step budgets sum to 3 working days" in result.output


def test_two_tier_catalog_has_no_district_procedures(defs: Definitions) -> None:
    catalog = defs.catalogs["cantho-2025-two-tier"]
    levels = Counter(p.level for p in catalog.procedures())
    assert set(levels) == {"city", "commune"}
    assert levels["commune"] == 13 + 12  # the 13 former district procedures join the 12
    land = catalog.get("district.land-transfer")
    assert land.level == "commune"
    tax = land.route.steps[2]
    assert catalog.step_agency(land, tax, "92.NINHKIEU").code == "92.TAX"


def test_merged_city_has_the_103_units_of_resolution_1668(defs: Definitions) -> None:
    # Resolution 1668/NQ-UBTVQH15 (plo.vn, 16 June 2025): 103 commune-level units, 31 wards
    # and 72 communes, from Can Tho, Hậu Giang and Sóc Trăng (Resolution 202/2025/QH15).
    merged = defs.unit_sets["cantho-2025-merged"]
    communes = merged.units_at("commune")
    assert Counter(u.kind for u in communes) == {"ward": 31, "commune": 72}
    # 87 names are in the news report of the resolution; the 8 it cuts off and the 8 kept
    # as they were come from public datasets only, so they are marked assumed.
    assert sum(u.assumed for u in communes) == 16
    assert all(u.source for u in communes)
    # The old Can Tho area keeps the two-tier set's 32 codes and names.
    two_tier = defs.unit_sets["cantho-2025-two-tier"]
    for unit in two_tier.units_at("commune"):
        assert merged.unit(unit.code).name == unit.name
    for role in ("desk", "leader", "justice", "police", "cadastral"):
        assert all(merged.agency_for(role, u.code) is not None for u in communes), role


def test_every_old_unit_has_a_successor_in_the_merged_city(defs: Definitions) -> None:
    merged = defs.unit_sets["cantho-2025-merged"]
    can_tho = defs.mappings["cantho-2025-merged"]
    old = {u.code for u in defs.unit_sets["cantho-2024"].all_units}
    assert {e.old for e in can_tho.units} == old
    # Notice 864/TB-SNV and Resolution 1668: Ninh Kiều ward = Tân An + Thới Bình + Xuân Khánh;
    # Cái Răng ward = Lê Bình + Ba Láng + Hưng Thạnh + Thường Thạnh.
    assert {e.old for e in can_tho.units if e.new == "92.NINHKIEU"} == {
        "92.NK.TANAN", "92.NK.THOIBINH", "92.NK.XUANKHANH",
    }  # fmt: skip
    assert {e.old for e in can_tho.units if e.new == "92.CAIRANG"} == {
        "92.CR.LEBINH", "92.CR.BALANG", "92.CR.HUNGTHANH", "92.CR.THUONGTHANH",
    }  # fmt: skip
    provinces = defs.mappings["haugiang-soctrang-2025-merged"]
    old_hs = defs.unit_sets["haugiang-soctrang-2024"]
    assert {e.old for e in provinces.units} == {u.code for u in old_hs.all_units}
    # Hậu Giang had 75 commune-level units; all of them were rearranged.
    assert sum(u.code.startswith("93.") for u in old_hs.units_at("commune")) == 75
    targets = {e.new for m in (can_tho, provinces) for e in m.units}
    assert {u.code for u in merged.units_at("commune")} <= targets
