"""Provinces and prefecture-level cities of China (GB/T 2260 codes).

The data in ``data/regions.json`` is generated from an npm package by
``data/build_regions.py``; its origin and licence are in
``data/REGIONS-LICENSE``. Never edit the JSON by hand: rebuild it.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

_DATA_FILE = Path(__file__).resolve().parent / "data" / "regions.json"


@functools.cache
def _tables() -> tuple[tuple[tuple[str, str], ...], dict[str, tuple[tuple[str, str], ...]], dict[str, str]]:
    with _DATA_FILE.open(encoding="utf-8") as fh:
        data = json.load(fh)
    provinces = tuple((p["code"], p["name"]) for p in data)
    cities = {p["code"]: tuple((c["code"], c["name"]) for c in p["cities"]) for p in data}
    names = dict(provinces)
    for pairs in cities.values():
        names.update(pairs)
    return provinces, cities, names


def provinces() -> list[tuple[str, str]]:
    """Return (code, name) of every province-level division, ordered by code."""
    return list(_tables()[0])


def cities(province_code: str) -> list[tuple[str, str]]:
    """Return (code, name) of the cities of a province; [] if it is unknown.

    A municipality (北京, 天津, 上海, 重庆) has itself as its only city.
    """
    if not isinstance(province_code, str):
        return []
    return list(_tables()[1].get(province_code, ()))


def is_valid(province_code: str, city_code: str) -> bool:
    """Tell whether city_code is one of the cities of province_code."""
    pairs = _tables()[1].get(province_code, ()) if isinstance(province_code, str) else ()
    return any(code == city_code for code, _name in pairs)


def name_of(code: str) -> str | None:
    """Return the name of a province or city code, or None if unknown."""
    return _tables()[2].get(code) if isinstance(code, str) else None
