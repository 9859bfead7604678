"""Name material for the synthetic demo people (services.demo).

Han names are a common surname (a few double ones) plus one or two given-name
characters; about 3 % are transliterated Uyghur/Kazakh-style names built from
syllables and joined by "·" (own name · father's name). Every combination is
random: the people are made up, and the few famous names a random draw could
hit are refused.
"""

import random

# Roughly in order of frequency; `surname()` weights the front of the list.
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田"
    "董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白"
    "邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
DOUBLE_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "慕容", "令狐", "公孙", "尉迟")

GIVEN_MALE = (
    "伟强磊军勇杰涛斌超明刚辉鹏华飞鑫波宇浩凯健俊帆帅旭龙博轩睿航铭哲泽昊志建国成海东振宏彬锐毅诚峰亮阳楠"
)
GIVEN_FEMALE = "芳娜敏静丽艳娟霞燕玲婷雪琳晶颖倩洁怡萱涵悦琪梦瑶璐婧妍慧莹蕾薇岚诗雅淑秀梅月彤曦馨"
GIVEN_NEUTRAL = "子一嘉文晓思雨欣佳林辰安诺可心若清晨乐天新宁"

# Syllables of transliterated names: head + optional middle + tail.
MINORITY_HEADS = "阿艾努热迪古帕吐依米买巴叶别哈木萨托"
MINORITY_MIDDLES = "依力尔合提买拉克孜兰斯吾尼麦"
MINORITY_TAILS_F = ("古丽", "娜", "汗", "曼", "丽", "扎提", "依拉")
MINORITY_TAILS_M = ("江", "提", "力", "别克", "兰", "尔", "买提")
MINORITY_ETHNICITIES = ("维吾尔族", "维吾尔族", "哈萨克族")

HAN_ETHNICITIES = (("汉族", 900), ("满族", 40), ("回族", 20), ("蒙古族", 15), ("朝鲜族", 15), ("壮族", 10))

# Characters students really mix up (homophones, similar shapes): the
# "typo" a demo name gets for the no-record and unmatched-photo paths.
CONFUSABLE = dict(
    zip(
        "伟强磊军杰涛明华飞宇浩俊博轩睿泽志建成海峰阳芳娜静丽婷雪琳颖倩怡萱涵琪瑶妍慧彤子一嘉文晓思欣林辰安新宁天晨乐",
        "玮墙雷君洁韬铭桦菲雨皓骏搏萱锐择智健诚亥锋扬方那晶莉亭雲林莹茜仪宣含淇遥研惠桐梓依佳雯小斯鑫琳晨按欣凝添辰勒",
        strict=True,
    )
)

# Names a random draw could produce that belong to well-known people.
REFUSED = frozenset((
    "王菲", "李娜", "刘翔", "姚明", "郎朗", "孙杨", "王楠", "李宁", "刘欢", "那英", "韩寒", "赵薇", "杨幂", "邓超", "孙俪", "莫言",
    "鲁迅", "李白", "杜甫", "马云", "雷军", "周杰伦", "张艺谋", "陈凯歌", "王宝强", "范冰冰", "郭敬明", "张怡宁", "杨利伟", "屠呦呦"
))  # fmt: skip


def surname(rng: random.Random) -> str:
    """A surname: about 1 % double, the rest weighted towards the common ones."""
    if rng.random() < 0.01:
        return rng.choice(DOUBLE_SURNAMES)
    # Triangular towards the front: 王 comes ~30× as often as 汤.
    return SURNAMES[int(len(SURNAMES) * rng.random() ** 2)]


def given_name(rng: random.Random, gender: str) -> str:
    """One or two characters; most of a gender's list, some neutral ones."""
    own = GIVEN_MALE if gender == "M" else GIVEN_FEMALE

    def char():
        return rng.choice(GIVEN_NEUTRAL) if rng.random() < 0.25 else rng.choice(own)

    if rng.random() < 0.15:
        return rng.choice(own)
    first = char()
    second = char()
    while second == first and rng.random() < 0.8:  # 婷婷 happens, but rarely
        second = char()
    return first + second


def _minority_part(rng, tails):
    while True:
        middle = rng.choice(MINORITY_MIDDLES) if rng.random() < 0.5 else ""
        part = rng.choice(MINORITY_HEADS) + middle + rng.choice(tails)
        if max(part.count(c) for c in part) < 3:  # no 依依依拉
            return part


def minority_name(rng: random.Random, gender: str) -> str:
    """Own name · father's name, e.g. 阿依古丽·买买提-style, from syllables."""
    own = _minority_part(rng, MINORITY_TAILS_M if gender == "M" else MINORITY_TAILS_F)
    return f"{own}·{_minority_part(rng, MINORITY_TAILS_M)}"


def person_name(rng: random.Random, gender: str, minority: bool = False) -> tuple[str, str]:
    """(name, ethnicity) of a made-up person of `gender` ("M"/"F")."""
    if minority:
        return minority_name(rng, gender), rng.choice(MINORITY_ETHNICITIES)
    while True:
        name = surname(rng) + given_name(rng, gender)
        if name not in REFUSED:
            break
    ethnicities, weights = zip(*HAN_ETHNICITIES, strict=True)
    return name, rng.choices(ethnicities, weights)[0]


def typo(rng: random.Random, name: str) -> str:
    """The name with one given-name character swapped for a confusable one."""
    if "·" in name:
        own, father = name.split("·", 1)
        return f"{own[:-1]}{'丽' if own[-1] != '丽' else '莉'}·{father}"
    start = 2 if name[:2] in DOUBLE_SURNAMES else 1
    positions = [i for i in range(start, len(name)) if name[i] in CONFUSABLE] or [len(name) - 1]
    i = rng.choice(positions)
    replacement = CONFUSABLE.get(name[i]) or ("晓" if name[i] != "晓" else "小")
    return name[:i] + replacement + name[i + 1 :]
