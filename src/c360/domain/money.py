"""Money as integer minor units with an ISO 4217 currency."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

# Currencies whose minor unit is not 2 digits; ISO 4217. VND has no minor unit in practice (the xu is gone).
_EXPONENTS: dict[str, int] = {
    "VND": 0, "JPY": 0, "KRW": 0, "CLP": 0, "ISK": 0, "PYG": 0, "UGX": 0, "XAF": 0, "XOF": 0, "IDR": 2,
    "BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3, "TND": 3, "LYD": 3, "IQD": 3,
}  # fmt: skip


def exponent(currency: str) -> int:
    """Digits after the decimal point in ``currency``'s minor unit (2 unless listed)."""
    return _EXPONENTS.get(currency.upper(), 2)


def to_minor(amount: object, currency: str) -> int:
    """An amount in major units (as sent by Segment clients: ``12.5`` USD, ``1250000`` VND) in minor units.

    Decimal arithmetic on the amount's text, so ``19.99`` becomes 1999 and never 1998.
    """
    if isinstance(amount, bool) or amount is None:
        raise ValueError(f"{amount!r} is not an amount")
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        raise ValueError(f"{amount!r} is not an amount") from None
    if not value.is_finite():
        raise ValueError(f"{amount!r} is not a finite amount")
    return int((value.scaleb(exponent(currency))).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def format_money(minor: int, currency: str) -> str:
    """``1,250,000 VND``, ``12.50 USD``: how an amount reads in an explanation."""
    digits = exponent(currency)
    if digits == 0:
        return f"{minor:,} {currency}"
    sign = "-" if minor < 0 else ""
    whole, part = divmod(abs(minor), 10**digits)
    return f"{sign}{whole:,}.{part:0{digits}d} {currency}"
