"""The pure tables reused by identity resolution: names_vi, places, phones_vi."""

from __future__ import annotations

import ast
import random
from pathlib import Path

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from c360.domain import names_vi, phones_vi, places
from c360.domain.names_vi import fold_name, has_diacritics, split_full_name, strip_diacritics
from c360.domain.phones_vi import (
    MOBILE_PREFIXES,
    OLD_TO_NEW_PREFIX,
    PHONE_STYLES,
    format_mobile,
    modernize_mobile,
    national_digits,
    new_prefix,
    to_legacy,
)
from c360.domain.places import OLD_PROVINCES, UNITS, place_key, province_code, province_name, written_forms

DOMAIN = Path(names_vi.__file__).parent
PURE_IMPORTS = {"__future__", "re", "unicodedata", "dataclasses", "typing", "c360.domain.names_vi"}


@pytest.mark.parametrize("module", [names_vi, places, phones_vi], ids=lambda m: m.__name__)
def test_domain_tables_import_nothing_that_does_io(module: object) -> None:
    path = Path(module.__file__)  # type: ignore[attr-defined]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id not in ("open", "print", "input", "exec", "eval"), f"{path.name} calls {node.func.id}"
    assert imported <= PURE_IMPORTS, imported - PURE_IMPORTS


# -- names -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Nguyễn Văn An", "Nguyen Van An"),
        ("Đặng Thị Đào", "Dang Thi Dao"),
        ("ĐỖ HOÀNG ĐỨC", "DO HOANG DUC"),
        ("Hoà Thuỷ Ý Ánh Ưng Ơn", "Hoa Thuy Y Anh Ung On"),
        ("Nguye\u0302\u0303n", "Nguyen"),  # decomposed input
        ("plain ascii", "plain ascii"),
    ],
)
def test_strip_diacritics_maps_d_with_stroke_explicitly(text: str, folded: str) -> None:
    assert strip_diacritics(text) == folded


def test_every_table_name_folds_to_ascii() -> None:
    names = [n for n, _ in names_vi.FAMILY_NAMES] + list(names_vi.GIVEN_NAMES_MALE) + list(names_vi.GIVEN_NAMES_FEMALE)
    names += [n for n, _, _ in names_vi.MIDDLE_NAMES_MALE + names_vi.MIDDLE_NAMES_FEMALE]
    for name in names:
        assert strip_diacritics(name).isascii(), name
        assert " " not in name, name


def test_name_tables_have_the_documented_shape() -> None:
    shares = dict(names_vi.FAMILY_NAMES)
    assert shares["Nguyễn"] == 38.0
    assert shares["Hoàng"] + shares["Huỳnh"] == pytest.approx(5.0)
    assert shares["Vũ"] + shares["Võ"] == pytest.approx(3.9)
    assert len(names_vi.GIVEN_NAMES_MALE) + len(names_vi.GIVEN_NAMES_FEMALE) >= 200
    assert len(set(names_vi.GIVEN_NAMES_MALE)) == len(names_vi.GIVEN_NAMES_MALE)
    assert len(set(names_vi.GIVEN_NAMES_FEMALE)) == len(names_vi.GIVEN_NAMES_FEMALE)
    assert {"Văn", "Đức", "Minh", "Hữu", "Quốc"} <= {n for n, _, _ in names_vi.MIDDLE_NAMES_MALE}
    assert {"Thị", "Ngọc", "Thu", "Thanh", "Phương"} <= {n for n, _, _ in names_vi.MIDDLE_NAMES_FEMALE}


def test_fold_name_and_split() -> None:
    assert fold_name("  NGUYỄN   văn  Ân ") == "nguyen van an"
    assert has_diacritics("Lê")
    assert not has_diacritics("Le")
    assert split_full_name("Nguyễn Thị Minh Khai") == ("Nguyễn", "Thị Minh", "Khai")
    assert split_full_name("An") == ("", "", "An")
    assert split_full_name("") == ("", "", "")


@given(st.text())
def test_fold_name_is_idempotent(text: str) -> None:
    assert fold_name(fold_name(text)) == fold_name(text)


# -- places ------------------------------------------------------------------------------------------------------

MERGERS = {
    "tuyen-quang": {"Tuyên Quang", "Hà Giang"},
    "lao-cai": {"Lào Cai", "Yên Bái"},
    "thai-nguyen": {"Thái Nguyên", "Bắc Kạn"},
    "phu-tho": {"Phú Thọ", "Vĩnh Phúc", "Hòa Bình"},
    "bac-ninh": {"Bắc Ninh", "Bắc Giang"},
    "hung-yen": {"Hưng Yên", "Thái Bình"},
    "hai-phong": {"Hải Phòng", "Hải Dương"},
    "ninh-binh": {"Ninh Bình", "Hà Nam", "Nam Định"},
    "quang-tri": {"Quảng Trị", "Quảng Bình"},
    "da-nang": {"Đà Nẵng", "Quảng Nam"},
    "quang-ngai": {"Quảng Ngãi", "Kon Tum"},
    "gia-lai": {"Gia Lai", "Bình Định"},
    "khanh-hoa": {"Khánh Hòa", "Ninh Thuận"},
    "lam-dong": {"Lâm Đồng", "Đắk Nông", "Bình Thuận"},
    "dak-lak": {"Đắk Lắk", "Phú Yên"},
    "ho-chi-minh": {"TP. Hồ Chí Minh", "Bình Dương", "Bà Rịa - Vũng Tàu"},
    "dong-nai": {"Đồng Nai", "Bình Phước"},
    "tay-ninh": {"Tây Ninh", "Long An"},
    "can-tho": {"Cần Thơ", "Sóc Trăng", "Hậu Giang"},
    "vinh-long": {"Vĩnh Long", "Bến Tre", "Trà Vinh"},
    "dong-thap": {"Đồng Tháp", "Tiền Giang"},
    "ca-mau": {"Cà Mau", "Bạc Liêu"},
    "an-giang": {"An Giang", "Kiên Giang"},
    "ha-noi": {"Hà Nội"},
    "hue": {"Thừa Thiên Huế"},
    "lai-chau": {"Lai Châu"},
    "dien-bien": {"Điện Biên"},
    "son-la": {"Sơn La"},
    "lang-son": {"Lạng Sơn"},
    "quang-ninh": {"Quảng Ninh"},
    "thanh-hoa": {"Thanh Hóa"},
    "nghe-an": {"Nghệ An"},
    "ha-tinh": {"Hà Tĩnh"},
    "cao-bang": {"Cao Bằng"},
}


def test_34_units_absorb_the_63_old_provinces_as_merged_in_2025() -> None:
    assert len(UNITS) == 34
    assert sum(unit.kind == "city" for unit in UNITS) == 6
    assert {unit.code for unit in UNITS if unit.kind == "city"} == {
        "ha-noi", "hue", "hai-phong", "da-nang", "ho-chi-minh", "can-tho",
    }  # fmt: skip
    assert len(OLD_PROVINCES) == 63
    absorbed: dict[str, set[str]] = {}
    for old in OLD_PROVINCES:
        absorbed.setdefault(old.unit_code, set()).add(old.name)
    assert absorbed == MERGERS
    assert all(code.isascii() and code == code.lower() for code in absorbed)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("TP.HCM", "ho-chi-minh"), ("TP. HCM", "ho-chi-minh"), ("TPHCM", "ho-chi-minh"), ("HCM", "ho-chi-minh"),
        ("Sài Gòn", "ho-chi-minh"), ("sai gon", "ho-chi-minh"), ("Ho Chi Minh City", "ho-chi-minh"),
        ("Thành phố Hồ Chí Minh", "ho-chi-minh"), ("Bình Dương", "ho-chi-minh"), ("Tỉnh BR–VT", "ho-chi-minh"),
        ("BR-VT", "ho-chi-minh"), ("HN", "ha-noi"), ("Hà Nội, Việt Nam", "ha-noi"), ("ha noi", "ha-noi"),
        ("ĐN", "da-nang"), ("Quảng Nam", "da-nang"), ("Thừa Thiên - Huế", "hue"), ("Huế", "hue"),
        ("Thanh Hoá", "thanh-hoa"), ("tinh ha giang", "tuyen-quang"), ("Đắc Lắc", "dak-lak"), ("Hà Nam", "ninh-binh"),
        ("Kiên Giang", "an-giang"), ("ho-chi-minh", "ho-chi-minh"), ("Nha Trang", "khanh-hoa"),
    ],
)  # fmt: skip
def test_province_code_reads_names_abbreviations_and_common_names(text: str, code: str) -> None:
    assert province_code(text) == code
    assert province_code(strip_diacritics(text)) == code
    assert province_code(text.upper()) == code


@pytest.mark.parametrize("text", ["", "   ", "Paris", "Quận 1", "unknown"])
def test_province_code_says_none_for_what_is_not_a_province(text: str) -> None:
    assert province_code(text) is None


def test_every_written_form_of_every_old_province_maps_to_its_unit() -> None:
    for old in OLD_PROVINCES:
        for form in written_forms(old.slug):
            for variant in (form, strip_diacritics(form), f"Tỉnh {form}", form.lower()):
                assert province_code(variant) == old.unit_code, variant
    assert province_name("ho-chi-minh") == "TP. Hồ Chí Minh"
    assert place_key("Tỉnh Bình Dương") == "binhduong"


# -- phones ------------------------------------------------------------------------------------------------------


def test_the_old_to_new_prefix_table_is_complete() -> None:
    expected = {f"016{d}": f"03{d}" for d in range(2, 10)}
    expected.update({"0120": "070", "0121": "079", "0122": "077", "0126": "076", "0128": "078"})
    expected.update({"0123": "083", "0124": "084", "0125": "085", "0127": "081", "0129": "082"})
    expected.update({"0186": "056", "0188": "058", "0199": "059"})
    assert expected == OLD_TO_NEW_PREFIX
    assert new_prefix("0162") == "032"
    assert new_prefix("0912") is None


@pytest.mark.parametrize(
    ("written", "modern"),
    [
        ("01623456789", "0323456789"),
        ("0162 345 6789", "0323456789"),
        ("+84 162 345 6789", "0323456789"),
        ("84-162-345-6789", "0323456789"),
        ("0199.123.4567", "0591234567"),
        ("0912 345 678", "0912 345 678"),  # already current: unchanged
        ("+84912345678", "+84912345678"),
        ("hello", "hello"),
    ],
)
def test_modernize_mobile(written: str, modern: str) -> None:
    assert modernize_mobile(written) == modern


def test_every_generated_prefix_makes_valid_mobiles_in_every_style() -> None:
    rng = random.Random(5)
    for prefixes in MOBILE_PREFIXES.values():
        for prefix in prefixes:
            for _ in range(20):
                national = prefix + "".join(str(rng.randrange(10)) for _ in range(10 - len(prefix)))
                e164 = "+84" + national[1:]
                for style in PHONE_STYLES:
                    written = format_mobile(national, style)
                    assert national_digits(written) == national
                    parsed = phonenumbers.parse(modernize_mobile(written), "VN")
                    assert phonenumbers.is_valid_number(parsed), written
                    assert phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) == e164
                legacy = to_legacy(national)
                if legacy is not None:
                    assert modernize_mobile(format_mobile(legacy, "spaced")) == national
                    assert not phonenumbers.is_valid_number(phonenumbers.parse(legacy, "VN"))


def test_format_mobile_styles() -> None:
    assert format_mobile("0912345678", "spaced") == "0912 345 678"
    assert format_mobile("0912345678", "e164") == "+84912345678"
    assert format_mobile("0912345678", "intl_dashed") == "84-912-345-678"
    assert format_mobile("0912345678", "plain") == "0912345678"
    with pytest.raises(ValueError, match="unknown phone style"):
        format_mobile("0912345678", "fancy")
