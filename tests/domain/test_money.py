from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from c360.domain.money import exponent, to_minor


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        (1250000, "VND", 1_250_000),
        ("1250000", "VND", 1_250_000),
        (19.99, "USD", 1999),  # float 19.99 is 19.98999...: decimal text arithmetic keeps it exact
        (0.1, "EUR", 10),
        (12.5, "usd", 1250),
        (1.2345, "KWD", 1234),  # 3-digit minor unit, half-even
        (1.2355, "KWD", 1236),
        (0, "VND", 0),
        (-5.5, "USD", -550),
    ],
)
def test_to_minor(amount: object, currency: str, minor: int) -> None:
    assert to_minor(amount, currency) == minor


@pytest.mark.parametrize("bad", [None, True, "abc", "", float("nan"), float("inf"), [1]])
def test_to_minor_rejects_what_is_not_an_amount(bad: object) -> None:
    with pytest.raises(ValueError, match="amount"):
        to_minor(bad, "VND")


def test_exponents() -> None:
    assert exponent("VND") == 0
    assert exponent("USD") == 2
    assert exponent("BHD") == 3


@given(st.decimals(min_value=-(10**9), max_value=10**9, places=2, allow_nan=False, allow_infinity=False))
def test_two_digit_currencies_round_trip(value: Decimal) -> None:
    assert Decimal(to_minor(str(value), "USD")) / 100 == value
