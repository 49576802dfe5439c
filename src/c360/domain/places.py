"""Vietnam's provinces: the 34 provincial units of 2025 and the 63 older provinces they absorbed.

Pure data and pure functions (no I/O). On 1 July 2025 Vietnam merged its 63 provinces and cities into 34 units
(6 centrally-run cities and 28 provinces). Customer data keeps the old names for years, next to abbreviations
(`TP.HCM`, `HN`) and common names (`Sài Gòn`), written with or without diacritics. The canonical code of a place
is the stable ASCII slug of the 2025 unit; `province_code` maps any written form to it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from c360.domain.names_vi import strip_diacritics


@dataclass(frozen=True, slots=True)
class ProvincialUnit:
    """One of the 34 provincial units of 2025."""

    code: str  # stable ASCII slug, the canonical place code
    name: str  # official Vietnamese name
    kind: str  # "city" (centrally-run) or "province"
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OldProvince:
    """One of the 63 provinces and cities before 1 July 2025, and the 2025 unit that absorbed it."""

    slug: str
    name: str
    unit_code: str
    population_k: int  # residents in thousands (2023 estimates), used to weight where customers live
    aliases: tuple[str, ...] = ()


UNITS: Final[tuple[ProvincialUnit, ...]] = (
    ProvincialUnit("ha-noi", "Hà Nội", "city", ("HN", "Hanoi", "Thủ đô Hà Nội")),
    ProvincialUnit("hue", "Huế", "city", ()),
    ProvincialUnit("hai-phong", "Hải Phòng", "city", ("HP", "Haiphong")),
    ProvincialUnit("da-nang", "Đà Nẵng", "city", ("ĐN", "Danang")),
    ProvincialUnit(
        "ho-chi-minh",
        "TP. Hồ Chí Minh",
        "city",
        ("Hồ Chí Minh", "TP.HCM", "TPHCM", "HCM", "HCMC", "Sài Gòn", "Saigon", "SG", "Thành phố Hồ Chí Minh"),
    ),
    ProvincialUnit("can-tho", "Cần Thơ", "city", ()),
    ProvincialUnit("lai-chau", "Lai Châu", "province"),
    ProvincialUnit("dien-bien", "Điện Biên", "province"),
    ProvincialUnit("son-la", "Sơn La", "province"),
    ProvincialUnit("lang-son", "Lạng Sơn", "province"),
    ProvincialUnit("quang-ninh", "Quảng Ninh", "province"),
    ProvincialUnit("thanh-hoa", "Thanh Hóa", "province", ("Thanh Hoá",)),
    ProvincialUnit("nghe-an", "Nghệ An", "province"),
    ProvincialUnit("ha-tinh", "Hà Tĩnh", "province"),
    ProvincialUnit("cao-bang", "Cao Bằng", "province"),
    ProvincialUnit("tuyen-quang", "Tuyên Quang", "province"),
    ProvincialUnit("lao-cai", "Lào Cai", "province"),
    ProvincialUnit("thai-nguyen", "Thái Nguyên", "province"),
    ProvincialUnit("phu-tho", "Phú Thọ", "province"),
    ProvincialUnit("bac-ninh", "Bắc Ninh", "province"),
    ProvincialUnit("hung-yen", "Hưng Yên", "province"),
    ProvincialUnit("ninh-binh", "Ninh Bình", "province"),
    ProvincialUnit("quang-tri", "Quảng Trị", "province"),
    ProvincialUnit("quang-ngai", "Quảng Ngãi", "province"),
    ProvincialUnit("gia-lai", "Gia Lai", "province"),
    ProvincialUnit("khanh-hoa", "Khánh Hòa", "province", ("Khánh Hoà",)),
    ProvincialUnit("lam-dong", "Lâm Đồng", "province"),
    ProvincialUnit("dak-lak", "Đắk Lắk", "province", ("Đắc Lắc", "Daklak")),
    ProvincialUnit("dong-nai", "Đồng Nai", "province"),
    ProvincialUnit("tay-ninh", "Tây Ninh", "province"),
    ProvincialUnit("vinh-long", "Vĩnh Long", "province"),
    ProvincialUnit("dong-thap", "Đồng Tháp", "province"),
    ProvincialUnit("ca-mau", "Cà Mau", "province"),
    ProvincialUnit("an-giang", "An Giang", "province"),
)

# The aliases of an old province that kept its name (Hà Nội, Huế ...) live on the unit above; the ones here add
# the pre-2025 official name and the names of its main town.
OLD_PROVINCES: Final[tuple[OldProvince, ...]] = (
    OldProvince("ha-noi", "Hà Nội", "ha-noi", 8587),
    OldProvince("thua-thien-hue", "Thừa Thiên Huế", "hue", 1160, ("Thừa Thiên - Huế", "TT Huế", "TT-Huế")),
    OldProvince("lai-chau", "Lai Châu", "lai-chau", 482),
    OldProvince("dien-bien", "Điện Biên", "dien-bien", 640),
    OldProvince("son-la", "Sơn La", "son-la", 1300),
    OldProvince("lang-son", "Lạng Sơn", "lang-son", 802),
    OldProvince("quang-ninh", "Quảng Ninh", "quang-ninh", 1362, ("Hạ Long",)),
    OldProvince("thanh-hoa", "Thanh Hóa", "thanh-hoa", 3722),
    OldProvince("nghe-an", "Nghệ An", "nghe-an", 3442, ("Vinh",)),
    OldProvince("ha-tinh", "Hà Tĩnh", "ha-tinh", 1323),
    OldProvince("cao-bang", "Cao Bằng", "cao-bang", 543),
    OldProvince("tuyen-quang", "Tuyên Quang", "tuyen-quang", 805),
    OldProvince("ha-giang", "Hà Giang", "tuyen-quang", 899),
    OldProvince("lao-cai", "Lào Cai", "lao-cai", 770, ("Sa Pa",)),
    OldProvince("yen-bai", "Yên Bái", "lao-cai", 842),
    OldProvince("thai-nguyen", "Thái Nguyên", "thai-nguyen", 1335),
    OldProvince("bac-kan", "Bắc Kạn", "thai-nguyen", 326, ("Bắc Cạn",)),
    OldProvince("phu-tho", "Phú Thọ", "phu-tho", 1516, ("Việt Trì",)),
    OldProvince("vinh-phuc", "Vĩnh Phúc", "phu-tho", 1211),
    OldProvince("hoa-binh", "Hòa Bình", "phu-tho", 875, ("Hoà Bình",)),
    OldProvince("bac-ninh", "Bắc Ninh", "bac-ninh", 1488),
    OldProvince("bac-giang", "Bắc Giang", "bac-ninh", 1922),
    OldProvince("hung-yen", "Hưng Yên", "hung-yen", 1290),
    OldProvince("thai-binh", "Thái Bình", "hung-yen", 1878),
    OldProvince("hai-phong", "Hải Phòng", "hai-phong", 2105),
    OldProvince("hai-duong", "Hải Dương", "hai-phong", 1946),
    OldProvince("ninh-binh", "Ninh Bình", "ninh-binh", 1010),
    OldProvince("ha-nam", "Hà Nam", "ninh-binh", 885),
    OldProvince("nam-dinh", "Nam Định", "ninh-binh", 1876),
    OldProvince("quang-tri", "Quảng Trị", "quang-tri", 650),
    OldProvince("quang-binh", "Quảng Bình", "quang-tri", 913, ("Đồng Hới",)),
    OldProvince("da-nang", "Đà Nẵng", "da-nang", 1246),
    OldProvince("quang-nam", "Quảng Nam", "da-nang", 1512, ("Hội An", "Tam Kỳ")),
    OldProvince("quang-ngai", "Quảng Ngãi", "quang-ngai", 1248),
    OldProvince("kon-tum", "Kon Tum", "quang-ngai", 580, ("Kontum",)),
    OldProvince("gia-lai", "Gia Lai", "gia-lai", 1590, ("Pleiku",)),
    OldProvince("binh-dinh", "Bình Định", "gia-lai", 1504, ("Quy Nhơn",)),
    OldProvince("khanh-hoa", "Khánh Hòa", "khanh-hoa", 1253, ("Nha Trang",)),
    OldProvince("ninh-thuan", "Ninh Thuận", "khanh-hoa", 598, ("Phan Rang",)),
    OldProvince("lam-dong", "Lâm Đồng", "lam-dong", 1332, ("Đà Lạt", "Dalat")),
    OldProvince("dak-nong", "Đắk Nông", "lam-dong", 670, ("Đắc Nông", "Daknong")),
    OldProvince("binh-thuan", "Bình Thuận", "lam-dong", 1252, ("Phan Thiết",)),
    OldProvince("dak-lak", "Đắk Lắk", "dak-lak", 1918, ("Buôn Ma Thuột",)),
    OldProvince("phu-yen", "Phú Yên", "dak-lak", 876, ("Tuy Hòa",)),
    OldProvince("ho-chi-minh", "TP. Hồ Chí Minh", "ho-chi-minh", 9456),
    OldProvince("binh-duong", "Bình Dương", "ho-chi-minh", 2763, ("Thủ Dầu Một",)),
    OldProvince(
        "ba-ria-vung-tau",
        "Bà Rịa - Vũng Tàu",
        "ho-chi-minh",
        1187,
        ("Bà Rịa–Vũng Tàu", "BR-VT", "BRVT", "Vũng Tàu"),
    ),
    OldProvince("dong-nai", "Đồng Nai", "dong-nai", 3255, ("Biên Hòa",)),
    OldProvince("binh-phuoc", "Bình Phước", "dong-nai", 1024),
    OldProvince("tay-ninh", "Tây Ninh", "tay-ninh", 1188),
    OldProvince("long-an", "Long An", "tay-ninh", 1735),
    OldProvince("can-tho", "Cần Thơ", "can-tho", 1252),
    OldProvince("soc-trang", "Sóc Trăng", "can-tho", 1200),
    OldProvince("hau-giang", "Hậu Giang", "can-tho", 728),
    OldProvince("vinh-long", "Vĩnh Long", "vinh-long", 1028),
    OldProvince("ben-tre", "Bến Tre", "vinh-long", 1297),
    OldProvince("tra-vinh", "Trà Vinh", "vinh-long", 1019),
    OldProvince("dong-thap", "Đồng Tháp", "dong-thap", 1600),
    OldProvince("tien-giang", "Tiền Giang", "dong-thap", 1790, ("Mỹ Tho",)),
    OldProvince("ca-mau", "Cà Mau", "ca-mau", 1207),
    OldProvince("bac-lieu", "Bạc Liêu", "ca-mau", 921),
    OldProvince("an-giang", "An Giang", "an-giang", 1908, ("Long Xuyên",)),
    OldProvince("kien-giang", "Kiên Giang", "an-giang", 1751, ("Rạch Giá", "Phú Quốc")),
)

UNIT_BY_CODE: Final[dict[str, ProvincialUnit]] = {unit.code: unit for unit in UNITS}
OLD_BY_SLUG: Final[dict[str, OldProvince]] = {old.slug: old for old in OLD_PROVINCES}

# Words that prefix or follow a province name without being part of it ("Tỉnh Long An", "TP. Cần Thơ").
_LEADING_WORDS: Final[tuple[tuple[str, ...], ...]] = (("thanh", "pho"), ("tinh",), ("tp",), ("t", "p"))
_TRAILING_WORDS: Final[tuple[tuple[str, ...], ...]] = (("city",), ("province",), ("viet", "nam"), ("vietnam",), ("vn",))
_SEPARATORS: Final = re.compile(r"[\s.,;:_/\\()'\"\u2013\u2014-]+")


def place_key(text: str) -> str:
    """The comparison key of a written place name: no diacritics, lower case, no prefix word, no spaces."""
    words = [w for w in _SEPARATORS.split(strip_diacritics(text).lower()) if w]
    stripped = True
    while stripped:
        stripped = False
        for trailing in _TRAILING_WORDS:
            if len(words) > len(trailing) and tuple(words[-len(trailing) :]) == trailing:
                words = words[: -len(trailing)]
                stripped = True
    stripped = True
    while stripped:
        stripped = False
        for leading in _LEADING_WORDS:
            if len(words) > len(leading) and tuple(words[: len(leading)]) == leading:
                words = words[len(leading) :]
                stripped = True
    return "".join(words)


def _build_index() -> dict[str, str]:
    index: dict[str, str] = {}

    def add(text: str, code: str) -> None:
        key = place_key(text)
        known = index.setdefault(key, code)
        if known != code:
            raise ValueError(f"place key {key!r} of {text!r} maps to both {known} and {code}")

    for unit in UNITS:
        add(unit.code, unit.code)
        add(unit.name, unit.code)
        for alias in unit.aliases:
            add(alias, unit.code)
    for old in OLD_PROVINCES:
        add(old.slug, old.unit_code)
        add(old.name, old.unit_code)
        for alias in old.aliases:
            add(alias, old.unit_code)
    return index


_INDEX: Final[dict[str, str]] = _build_index()


def province_code(text: str) -> str | None:
    """The 2025 unit code of any written province (`Sài Gòn`, `binh duong`, `TP.HCM` -> `ho-chi-minh`), else None."""
    if not text:
        return None
    return _INDEX.get(place_key(text))


def province_name(code: str) -> str:
    """The official Vietnamese name of a 2025 unit code (`ho-chi-minh` -> `TP. Hồ Chí Minh`)."""
    return UNIT_BY_CODE[code].name


def written_forms(old_slug: str) -> tuple[str, ...]:
    """Every table form that names this old province or the unit that absorbed it (what data entry produces)."""
    old = OLD_BY_SLUG[old_slug]
    unit = UNIT_BY_CODE[old.unit_code]
    forms = [old.name, *old.aliases, unit.name, *unit.aliases]
    return tuple(dict.fromkeys(forms))
