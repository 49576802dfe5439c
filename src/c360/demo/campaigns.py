"""Marketing calendar: which sale a day belongs to, for UTM campaigns, promo pages, coupons and emails."""

from __future__ import annotations

import datetime as dt
from typing import Final

from c360.demo.shop_calendar import DOUBLE_DAYS, GIFT_DAYS, TET_DATES

_GIFT_SLUGS: Final = {(3, 8): "quoc-te-phu-nu", (10, 20): "phu-nu-viet-nam", (2, 14): "valentine"}
_GIFT_TITLES: Final = {(3, 8): "Quốc tế Phụ nữ 8.3", (10, 20): "Phụ nữ Việt Nam 20.10", (2, 14): "Valentine 14.2"}


def sale_of(day: dt.date) -> tuple[str, str] | None:
    """(campaign slug, Vietnamese title) of the sale running on `day`, if any.

    A double-day sale is promoted for the five days up to it, a gift day for the three days up to it, Tết for
    the three weeks before the new year.
    """
    for (month, dom), _ in DOUBLE_DAYS.items():
        target = _next_on_or_after(day, month, dom)
        if 0 <= (target - day).days <= 4:
            return f"sale-{month}-{dom}-{target.year}", f"Siêu sale {dom}.{month}"
    for key in GIFT_DAYS:
        target = _next_on_or_after(day, key[0], key[1])
        if 0 <= (target - day).days <= 2:
            return f"{_GIFT_SLUGS[key]}-{target.year}", _GIFT_TITLES[key]
    for year in (day.year, day.year + 1):
        tet = TET_DATES.get(year)
        if tet is not None and 1 <= (tet - day).days <= 21:
            return f"tet-{year}", f"Sắm Tết {year}"
    return None


def _next_on_or_after(day: dt.date, month: int, dom: int) -> dt.date:
    candidate = dt.date(day.year, month, dom)
    if candidate < day:
        candidate = dt.date(day.year + 1, month, dom)
    return candidate
