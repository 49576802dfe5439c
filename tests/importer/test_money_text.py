"""Money as exports write it: every Vietnamese form, other currencies with their code, and what is refused."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from c360.domain.money_text import MoneyTextError, parse_money
from c360.importer import columns


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.250.000 ₫", (1_250_000, "VND")),
        ("1,250,000đ", (1_250_000, "VND")),
        ("1.250.000 VND", (1_250_000, "VND")),
        ("1.250.000đ", (1_250_000, "VND")),
        ("1250000", (1_250_000, "VND")),  # the default currency
        ("1 250 000 ₫", (1_250_000, "VND")),
        ("1\u00a0250\u00a0000 ₫", (1_250_000, "VND")),
        ("1.250.000 VNĐ", (1_250_000, "VND")),
        ("1.250.000 đồng", (1_250_000, "VND")),
        ("VND 1,250,000", (1_250_000, "VND")),
        ("1.250.000,00 ₫", (1_250_000, "VND")),
        ("-1.250.000 ₫", (-1_250_000, "VND")),
        ("12.50 USD", (1250, "USD")),
        ("$12.50", (1250, "USD")),
        ("-$12.50", (-1250, "USD")),
        ("US$ 1,234.56", (123_456, "USD")),
        ("12,5 EUR", (1250, "EUR")),
        ("€1.234,56", (123_456, "EUR")),
        ("usd 7", (700, "USD")),
        ("1.250", (1250, "VND")),  # a single separator before three digits groups thousands
        ("0,5 USD", (50, "USD")),
        ("1.5 KWD", (1500, "KWD")),  # three-digit minor unit
        ("¥1,200", (1200, "JPY")),
    ],
)
def test_money_forms(text: str, expected: tuple[int, str]) -> None:
    assert parse_money(text, default_currency="VND") == expected


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "no amount"),
        ("abc", "not an amount"),
        ("12 XYZ", "not a currency"),
        ("1250.5 VND", "VND has no minor unit"),
        ("12.345 USD", None),  # groups thousands: 12,345 USD, not an error
        ("1.234,567 USD", "USD has 2 decimal places"),
        ("1,25,000 ₫", "grouped by three"),
        ("$12 VND", "two currencies"),
        ("--5 ₫", "two signs"),
        ("-$-5", "two signs"),
    ],
)
def test_what_is_not_money(text: str, words: str | None) -> None:
    if words is None:
        assert parse_money(text) == (1_234_500, "USD")
        return
    with pytest.raises(MoneyTextError, match=words):
        parse_money(text, default_currency="VND")


def test_no_currency_and_no_default_is_refused() -> None:
    with pytest.raises(MoneyTextError, match="no currency"):
        parse_money("1250000")


def _vnd_forms(amount: int) -> list[str]:
    dotted = f"{amount:,}".replace(",", ".")
    return [f"{dotted} ₫", f"{amount:,}đ", f"{amount}", f"{dotted} VND", f"{dotted}đ"]


@given(st.integers(min_value=0, max_value=10**12))
def test_every_vietnamese_form_of_an_amount_reads_the_same(amount: int) -> None:
    for text in _vnd_forms(amount):
        assert parse_money(text, default_currency="VND") == (amount, "VND"), text


@given(
    st.lists(st.integers(min_value=-(10**9), max_value=10**9), min_size=1, max_size=30), st.sampled_from(["VND", "USD"])
)
def test_the_column_reader_agrees_with_the_text_parser(amounts: list[int], currency: str) -> None:
    texts = [form for amount in amounts for form in _vnd_forms(abs(amount))] + ["oops", None, "12.5 USD"]
    read = columns.money(pa.array(texts, pa.string()), pa.array([currency] * len(texts)))
    minor, codes = read.minor.to_pylist(), read.currency.to_pylist()
    for i, text in enumerate(texts):
        if text is None:
            assert minor[i] is None
            continue
        try:
            expected: tuple[int, str] | None = parse_money(text, default_currency=currency)
        except MoneyTextError:
            expected = None
        assert (None if minor[i] is None else (minor[i], codes[i])) == expected, text
