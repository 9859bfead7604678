"""The kinds of identity document a student may hold: codes, labels, aliases,
and the area codes their numbers may start with.

services.idcard validates the numbers of each kind and re-exports these
names; registry imports map the labels colleges write to the codes.
"""

from flask_babel import lazy_gettext as _l

RESIDENT = "resident"
RESIDENCE_PERMIT = "residence_permit"
HKMO_PERMIT = "hkmo_permit"
TW_PERMIT = "tw_permit"
PASSPORT = "passport"

ID_TYPES = [
    (RESIDENT, _l("居民身份证")),
    (RESIDENCE_PERMIT, _l("港澳台居民居住证")),
    (HKMO_PERMIT, _l("港澳居民来往内地通行证")),
    (TW_PERMIT, _l("台湾居民来往大陆通行证")),
    (PASSPORT, _l("护照")),
]

# "港澳通行证" is left out on purpose: it usually names the mainlanders'
# permit for travel to Hong Kong and Macao, a different document.
ID_TYPE_BY_LABEL = {
    **{code: code for code, _label in ID_TYPES},
    "居民身份证": RESIDENT,
    "身份证": RESIDENT,
    "二代身份证": RESIDENT,
    "第二代居民身份证": RESIDENT,
    "中华人民共和国居民身份证": RESIDENT,
    "港澳台居民居住证": RESIDENCE_PERMIT,
    "港澳居民居住证": RESIDENCE_PERMIT,
    "台湾居民居住证": RESIDENCE_PERMIT,
    "港澳居民来往内地通行证": HKMO_PERMIT,
    "回乡证": HKMO_PERMIT,
    "台湾居民来往大陆通行证": TW_PERMIT,
    "台胞证": TW_PERMIT,
    "护照": PASSPORT,
}

# The first two digits of a resident ID number: the province codes.
PROVINCE_PREFIXES = frozenset(
    str(n)
    for low, high in ((11, 15), (21, 23), (31, 37), (41, 46), (50, 54), (61, 65))
    for n in range(low, high + 1)
) | {"71", "81", "82", "83"}

# The area codes of residence permits for Hong Kong, Macao and Taiwan residents.
PERMIT_AREAS = ("810000", "820000", "830000")
