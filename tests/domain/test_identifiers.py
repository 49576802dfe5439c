import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from c360.domain.identifiers import (
    DEFAULT_LIMITS,
    IdentifierType,
    _valid_vietnamese,
    _vietnamese_e164,
    is_blocked,
    name_keys,
    normalize_email,
    normalize_phone,
)


@pytest.mark.parametrize(
    "written",
    [
        "0912345678",
        "0912 345 678",
        "+84912345678",
        "+84 912 345 678",
        "84912345678",
        "84-912-345-678",
        "(+84) 912.345.678",
    ],
)
def test_vietnamese_mobiles_in_every_form_are_one_number(written: str) -> None:
    assert normalize_phone(written) == "+84912345678"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("01623456789", "+84323456789"),
        ("0121 345 6789", "+84793456789"),
        ("+84 127 345 6789", "+84813456789"),
        ("0199-345-6789", "+84593456789"),
        ("0186 345 6789", "+84563456789"),
    ],
)
def test_pre_2018_eleven_digit_mobiles_map_to_todays_prefixes(old: str, new: str) -> None:
    assert normalize_phone(old) == new


@pytest.mark.parametrize("bad", ["", "   ", "abc", "12345", "0999999999999", None, "0000000000"])
def test_invalid_phones(bad: str | None) -> None:
    assert normalize_phone(bad) is None


def _parsed_e164(text: str) -> str | None:
    """phonenumbers' own answer for ``text`` in Vietnam: the reference the quick path must agree with."""
    try:
        number = phonenumbers.parse(text, "VN")
    except phonenumbers.NumberParseException:
        return None
    valid = phonenumbers.is_valid_number(number)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) if valid else None


@st.composite
def _written_vietnamese(draw: st.DrawFn) -> str:
    # Mostly numbers of the prefixes in use (2x landlines, 3/5/7/8/9 mobiles), so that most are valid.
    national = draw(st.sampled_from("0123456789") | st.sampled_from("2357899")) + draw(
        st.text("0123456789", min_size=8, max_size=9)
    )
    head = draw(st.sampled_from(["0", "+84", "+84 ", "+84-", "+84."]))
    separators = draw(
        st.lists(st.sampled_from(["", "", " ", ".", "-"]), min_size=len(national), max_size=len(national))
    )
    return head + "".join(sep + digit for sep, digit in zip(separators, national, strict=True)).lstrip(" .-")


@settings(max_examples=500)
@given(_written_vietnamese())
def test_the_quick_vietnamese_path_agrees_with_phonenumbers(written: str) -> None:
    quick = _vietnamese_e164(written)
    assert quick is None or quick == _parsed_e164(written)


@pytest.mark.parametrize("written", ["0912 345 678", "+84-912-345-678", "0283.812.3456", "0362345678"])
def test_the_quick_vietnamese_path_takes_the_common_writings(written: str) -> None:
    assert _vietnamese_e164(written) == _parsed_e164(written) is not None


def test_foreign_numbers_keep_their_country() -> None:
    assert normalize_phone("+1 415 555 2671") == "+14155552671"
    assert normalize_phone("+65 8123 4567") == "+6581234567"


def test_emails() -> None:
    assert normalize_email("  An.Nguyen@Gmail.COM ") == "an.nguyen@gmail.com"
    assert normalize_email("An.Nguyen+shop@Gmail.com", gmail_rules=True) == "annguyen@gmail.com"
    assert normalize_email("an.nguyen@googlemail.com", gmail_rules=True) == "annguyen@gmail.com"
    assert normalize_email("an.nguyen+x@yahoo.com", gmail_rules=True) == "an.nguyen+x@yahoo.com"  # not Gmail
    for bad in ("", "no-at-sign", "a@b", "a b@c.vn", "@x.vn", None):
        assert normalize_email(bad) is None


@pytest.mark.parametrize(
    "value", [None, "", " ", "null", "NULL", "undefined", "anonymous", "0", "-1", "000000", "---", "0 000 000"]
)
def test_blocked_values(value: str | None) -> None:
    assert is_blocked(value)


def test_workspace_blocklist_and_ordinary_values() -> None:
    shop = frozenset({"test@test.com", "+842873001234"})
    assert is_blocked("TEST@test.com", shop)
    assert is_blocked("+842873001234", shop)
    assert not is_blocked("an@vi.vn", shop)
    assert not is_blocked("+84912345678")
    assert not is_blocked("u-10")


def test_name_keys_with_and_without_diacritics_and_in_both_orders() -> None:
    keys = name_keys("  Nguyễn   Văn  Đức ")
    assert keys is not None
    assert keys.original == "Nguyễn Văn Đức"
    assert keys.folded == "nguyen van duc"
    assert keys.reversed_folded == "duc nguyen van"
    plain = name_keys("NGUYEN VAN DUC")
    assert plain is not None
    assert (plain.folded, plain.reversed_folded) == (keys.folded, keys.reversed_folded)
    western = name_keys("Duc Nguyen Van")
    assert western is not None
    assert western.folded == keys.reversed_folded  # given-name-first writing meets the Vietnamese order
    assert name_keys("   ") is None
    assert name_keys(None) is None


def test_decomposed_input_gives_the_same_keys() -> None:
    import unicodedata

    composed = name_keys("Trần Thị Ánh")
    decomposed = name_keys(unicodedata.normalize("NFD", "Trần Thị Ánh"))
    assert composed == decomposed


def test_priorities_and_limits_follow_the_design() -> None:
    order = [t.value for t in sorted(IdentifierType, key=lambda t: t.priority)]
    assert order == ["user_id", "email", "phone", "loyalty_card", "external_id", "device_id", "anonymous_id"]
    assert DEFAULT_LIMITS[IdentifierType.USER_ID] == 1
    assert all(limit == 5 for t, limit in DEFAULT_LIMITS.items() if t is not IdentifierType.USER_ID)


@settings(max_examples=2000)
@given(st.text("0123456789", min_size=1, max_size=12).filter(lambda d: not d.startswith("0")))
def test_the_vietnamese_validity_check_is_phonenumbers_own(national: str) -> None:
    number = phonenumbers.PhoneNumber(country_code=84, national_number=int(national))
    assert _valid_vietnamese(national) == phonenumbers.is_valid_number(number)


@pytest.mark.parametrize(
    "national",
    ["912345678", "2838123456", "18001234", "1900123456", "672123456", "1991234", "6912345", "1210123456", "121012345"],
)
def test_the_vietnamese_validity_check_on_every_number_type(national: str) -> None:
    number = phonenumbers.PhoneNumber(country_code=84, national_number=int(national))
    assert _valid_vietnamese(national) == phonenumbers.is_valid_number(number)
