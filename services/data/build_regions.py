"""Build regions.json and REGIONS-LICENSE from the @vant/area-data npm package.

Usage (from the repository root):

    cd /tmp && npm pack @vant/area-data@2.1.0 && tar xzf vant-area-data-2.1.0.tgz
    python services/data/build_regions.py /tmp/package

The package ships its data as a JavaScript object literal (``areaList`` with
``province_list``, ``city_list`` and ``county_list``, each mapping a GB/T 2260
code to a name). This script reads that literal without running JavaScript,
keeps provinces and prefecture-level cities, and applies two rules:

* a municipality (a city named like its province, e.g. 北京市 under 北京市)
  offers only itself as its city, which also drops placeholder entries such
  as 重庆市's "县";
* a placeholder for county-level units governed directly by the province
  (city code ending in 9000, e.g. 429000 "省直辖县") is replaced by those
  units (仙桃市, 潜江市, ...), which students know as cities.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE_FILE = Path("dist") / "index.cjs"
_BLOCK = re.compile(r"^\s*(province_list|city_list|county_list):\s*\{\s*$")
_ENTRY = re.compile(r'^\s*(\d{6}):\s*("(?:[^"\\]|\\.)*"),?\s*$')
_BLOCK_END = re.compile(r"^\s*\},?\s*$")


def parse_area_list(source: str) -> dict[str, dict[str, str]]:
    """Parse the three code → name tables out of the package's index.cjs."""
    tables: dict[str, dict[str, str]] = {}
    current = None
    for number, line in enumerate(source.splitlines(), 1):
        if current is None:
            match = _BLOCK.match(line)
            if match:
                current = tables.setdefault(match.group(1), {})
            continue
        if _BLOCK_END.match(line):
            current = None
            continue
        match = _ENTRY.match(line)
        if not match:
            raise ValueError(f"line {number}: unexpected content {line.strip()[:60]!r}")
        current[match.group(1)] = json.loads(match.group(2))
    missing = {"province_list", "city_list", "county_list"} - tables.keys()
    if missing:
        raise ValueError(f"tables not found: {sorted(missing)}")
    return tables


def build(tables: dict[str, dict[str, str]]) -> list[dict]:
    """Turn the parsed tables into the province → cities structure."""
    counties = tables["county_list"]
    result = []
    for pcode, pname in sorted(tables["province_list"].items()):
        cities = sorted((code, name) for code, name in tables["city_list"].items() if code[:2] == pcode[:2])
        itself = [(code, name) for code, name in cities if name == pname]
        if itself:
            cities = itself[:1]
        expanded = []
        for code, name in cities:
            if code[2:] == "9000":
                expanded += sorted((c, n) for c, n in counties.items() if c[:4] == code[:4])
            else:
                expanded.append((code, name))
        if not expanded:
            raise ValueError(f"province {pcode} has no cities")
        result.append(
            {
                "code": pcode,
                "name": pname,
                "cities": [{"code": c, "name": n} for c, n in expanded],
            }
        )
    return result


def dump(provinces: list[dict]) -> str:
    """Serialise compactly, one province per line so diffs stay readable."""
    lines = (json.dumps(p, ensure_ascii=False, separators=(",", ":")) for p in provinces)
    return "[\n" + ",\n".join(lines) + "\n]\n"


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point: read the unpacked package, write the files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package", type=Path, help="unpacked npm package folder")
    parser.add_argument("--out-dir", type=Path, default=HERE)
    args = parser.parse_args(argv)

    meta = json.loads((args.package / "package.json").read_text(encoding="utf-8"))
    tables = parse_area_list((args.package / SOURCE_FILE).read_text(encoding="utf-8"))
    licence = (args.package / "LICENSE").read_text(encoding="utf-8").strip()

    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "regions.json").write_text(dump(build(tables)), encoding="utf-8")
    header = (
        f"regions.json is derived from the npm package {meta['name']}@{meta['version']} "
        f"(licence: {meta['license']}), {SOURCE_FILE.as_posix()}, by\n"
        f"    python services/data/build_regions.py <unpacked {meta['name']} package>\n"
        "Only provinces and prefecture-level cities are kept; see build_regions.py.\n"
    )
    (args.out_dir / "REGIONS-LICENSE").write_text(f"{header}\n{'-' * 72}\n\n{licence}\n", encoding="utf-8")


if __name__ == "__main__":
    main()
