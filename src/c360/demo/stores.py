"""The shop's physical stores. Each has a hotline mobile that cashiers type in when a walk-in gives no phone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class Store:
    code: str
    name: str
    old_province: str  # slug of the pre-2025 province the store stands in
    unit_code: str  # 2025 provincial unit
    hotline: str  # national form, a valid mobile number
    weight: float  # relative traffic among the stores of its unit


STORES: Final[tuple[Store, ...]] = (
    Store("HCM01", "Sen Vàng Nguyễn Trãi, Quận 1", "ho-chi-minh", "ho-chi-minh", "0909123401", 3.0),
    Store("HCM02", "Sen Vàng Vincom Đồng Khởi", "ho-chi-minh", "ho-chi-minh", "0938123402", 2.5),
    Store("HCM03", "Sen Vàng Quận 7 Crescent Mall", "ho-chi-minh", "ho-chi-minh", "0978123403", 2.0),
    Store("HCM04", "Sen Vàng Gò Vấp", "ho-chi-minh", "ho-chi-minh", "0868123404", 1.5),
    Store("HCM05", "Sen Vàng Thủ Đức", "ho-chi-minh", "ho-chi-minh", "0328123405", 1.5),
    Store("HCM06", "Sen Vàng Thủ Dầu Một", "binh-duong", "ho-chi-minh", "0988123406", 1.0),
    Store("HCM07", "Sen Vàng Vũng Tàu", "ba-ria-vung-tau", "ho-chi-minh", "0918123407", 0.8),
    Store("HN01", "Sen Vàng Hoàn Kiếm", "ha-noi", "ha-noi", "0912123408", 3.0),
    Store("HN02", "Sen Vàng Cầu Giấy", "ha-noi", "ha-noi", "0983123409", 2.0),
    Store("HN03", "Sen Vàng Aeon Long Biên", "ha-noi", "ha-noi", "0936123410", 1.5),
    Store("HN04", "Sen Vàng Hà Đông", "ha-noi", "ha-noi", "0348123411", 1.2),
    Store("DN01", "Sen Vàng Hải Châu", "da-nang", "da-nang", "0905123412", 1.0),
    Store("HP01", "Sen Vàng Lê Chân", "hai-phong", "hai-phong", "0936123413", 1.0),
    Store("CT01", "Sen Vàng Ninh Kiều", "can-tho", "can-tho", "0939123414", 1.0),
    Store("DNA01", "Sen Vàng Biên Hòa", "dong-nai", "dong-nai", "0979123415", 1.0),
    Store("KH01", "Sen Vàng Nha Trang", "khanh-hoa", "khanh-hoa", "0935123416", 1.0),
    Store("HUE01", "Sen Vàng Huế", "thua-thien-hue", "hue", "0914123417", 1.0),
    Store("QN01", "Sen Vàng Hạ Long", "quang-ninh", "quang-ninh", "0904123418", 1.0),
)

STORES_BY_UNIT: Final[dict[str, tuple[Store, ...]]] = {
    unit: tuple(store for store in STORES if store.unit_code == unit) for unit in sorted({s.unit_code for s in STORES})
}
