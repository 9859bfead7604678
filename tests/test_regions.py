"""Tests for services.regions and the script that builds its data."""

import importlib.util
import json
from pathlib import Path

import pytest

from services import idcard, regions

DATA_DIR = Path(regions.__file__).resolve().parent / "data"


def load_builder():
    spec = importlib.util.spec_from_file_location("build_regions", DATA_DIR / "build_regions.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_provinces_include_all_34_divisions():
    provinces = dict(regions.provinces())
    assert len(provinces) == 34
    assert provinces["110000"] == "北京市"
    assert provinces["440000"] == "广东省"
    assert provinces["810000"] == "香港特别行政区"
    assert provinces["820000"] == "澳门特别行政区"
    assert provinces["710000"] == "台湾省"
    assert [code for code, _name in regions.provinces()] == sorted(provinces)


def test_cities_of_a_province():
    guangdong = dict(regions.cities("440000"))
    assert guangdong["440100"] == "广州市"
    assert guangdong["440300"] == "深圳市"
    assert len(guangdong) == 21


@pytest.mark.parametrize(
    ("province", "city", "name"),
    [
        ("110000", "110100", "北京市"),
        ("120000", "120100", "天津市"),
        ("310000", "310100", "上海市"),
        ("500000", "500100", "重庆市"),
    ],
)
def test_municipality_offers_itself(province, city, name):
    assert regions.cities(province) == [(city, name)]


def test_directly_governed_county_level_cities_are_listed():
    hubei = dict(regions.cities("420000"))
    assert hubei["429004"] == "仙桃市"
    assert "429000" not in hubei
    assert dict(regions.cities("410000"))["419001"] == "济源市"


def test_codes_are_consistent():
    seen = set()
    for pcode, _pname in regions.provinces():
        assert len(pcode) == 6 and pcode.isdigit() and pcode.endswith("0000")
        assert pcode[:2] in idcard.PROVINCE_PREFIXES
        assert regions.cities(pcode), pcode
        for ccode, cname in regions.cities(pcode):
            assert len(ccode) == 6 and ccode.isdigit() and ccode[:2] == pcode[:2]
            assert cname and ccode not in seen
            seen.add(ccode)


def test_is_valid():
    assert regions.is_valid("440000", "440100")
    assert regions.is_valid("110000", "110100")
    assert not regions.is_valid("440000", "110100")
    assert not regions.is_valid("110000", "110101")
    assert not regions.is_valid("999999", "999900")
    assert not regions.is_valid("", "")
    assert not regions.is_valid(None, None)
    assert not regions.is_valid(["440000"], "440100")


def test_name_of_and_unknown_codes():
    assert regions.name_of("440100") == "广州市"
    assert regions.name_of("810000") == "香港特别行政区"
    assert regions.name_of("000000") is None
    assert regions.name_of(None) is None
    assert regions.cities("999999") == []
    assert regions.cities(None) == []


def test_returned_lists_are_copies():
    regions.cities("440000").clear()
    regions.provinces().clear()
    assert regions.cities("440000") and len(regions.provinces()) == 34


def test_generator_sample_areas_are_real_cities():
    for area in idcard._SAMPLE_AREAS:
        assert regions.is_valid(area[:2] + "0000", area), area


def test_licence_names_the_source_package():
    header = (DATA_DIR / "REGIONS-LICENSE").read_text(encoding="utf-8").splitlines()[0]
    assert "@vant/area-data@" in header
    assert "MIT" in header


FAKE_SOURCE = """\
"use strict";
const areaList = {
    province_list: {
        110000: "\\u5317\\u4EAC\\u5E02",
        420000: "湖北省",
        500000: "重庆市"
    },
    city_list: {
        110100: "\\u5317\\u4EAC\\u5E02",
        420100: "武汉市",
        429000: "省直辖县",
        500100: "重庆市",
        500200: "县"
    },
    county_list: {
        110101: "东城区",
        420102: "江岸区",
        429004: "仙桃市",
        429005: "潜江市",
        500229: "城口县"
    }
};
"""


def test_build_script_on_a_small_fake_package(tmp_path):
    package = tmp_path / "package"
    (package / "dist").mkdir(parents=True)
    (package / "dist" / "index.cjs").write_text(FAKE_SOURCE, encoding="utf-8")
    (package / "package.json").write_text(
        json.dumps({"name": "@vant/area-data", "version": "0.0.1", "license": "MIT"})
    )
    (package / "LICENSE").write_text("MIT License\n\nfake text\n")
    load_builder().main([str(package), "--out-dir", str(tmp_path / "out")])

    built = json.loads((tmp_path / "out" / "regions.json").read_text(encoding="utf-8"))
    assert built == [
        {"code": "110000", "name": "北京市", "cities": [{"code": "110100", "name": "北京市"}]},
        {"code": "420000", "name": "湖北省", "cities": [
            {"code": "420100", "name": "武汉市"},
            {"code": "429004", "name": "仙桃市"},
            {"code": "429005", "name": "潜江市"},
        ]},
        {"code": "500000", "name": "重庆市", "cities": [{"code": "500100", "name": "重庆市"}]},
    ]  # fmt: skip
    licence = (tmp_path / "out" / "REGIONS-LICENSE").read_text(encoding="utf-8")
    assert licence.startswith("regions.json is derived from the npm package @vant/area-data@0.0.1")
    assert "fake text" in licence


def test_build_script_refuses_unexpected_content():
    builder = load_builder()
    with pytest.raises(ValueError):
        builder.parse_area_list(FAKE_SOURCE.replace('420100: "武汉市",', "420100: someFunction(),"))
    with pytest.raises(ValueError):
        builder.parse_area_list("const areaList = {};")


def test_shipped_json_is_what_the_builder_writes():
    # Guards against hand edits: re-serialising the data must be a no-op.
    text = (DATA_DIR / "regions.json").read_text(encoding="utf-8")
    assert load_builder().dump(json.loads(text)) == text
