"""Texts of the web pages in Vietnamese and English, and number formats of each language."""

from __future__ import annotations

LANGUAGES = ("vi", "en")

TEXTS: dict[str, dict[str, str]] = {
    "vi": {
        "title": "Tổng quan dữ liệu khách hàng",
        "subtitle": "Nền tảng dữ liệu khách hàng (CDP) với chương trình khách hàng thân thiết",
        "events_accepted": "Sự kiện đã nhận",
        "events_in_lake": "Sự kiện trong kho dữ liệu",
        "processor_lag": "Sự kiện chờ xử lý",
        "profiles": "Hồ sơ khách hàng",
        "sources": "Nguồn dữ liệu",
        "customers_with_orders": "Khách hàng đã mua",
        "orders": "Đơn hàng",
        "revenue": "Doanh thu",
        "by_type": "Sự kiện theo loại",
        "type": "Loại",
        "count": "Số lượng",
        "workspace": "Không gian làm việc",
        "no_events": "Chưa có sự kiện nào. Chạy `c360 demo` hoặc gửi sự kiện tới /v1/track.",
        "language": "Ngôn ngữ",
    },
    "en": {
        "title": "Customer data overview",
        "subtitle": "Customer Data Platform with a built-in loyalty program",
        "events_accepted": "Events accepted",
        "events_in_lake": "Events in the lake",
        "processor_lag": "Events waiting to be processed",
        "profiles": "Customer profiles",
        "sources": "Sources",
        "customers_with_orders": "Customers who bought",
        "orders": "Orders",
        "revenue": "Revenue",
        "by_type": "Events by type",
        "type": "Type",
        "count": "Count",
        "workspace": "Workspace",
        "no_events": "No events yet. Run `c360 demo` or send events to /v1/track.",
        "language": "Language",
    },
}


def pick_language(requested: str | None, accept_language: str | None, default: str) -> str:
    """``?lang=`` first, then the browser's Accept-Language (by its q-values), then the workspace default."""
    if requested in LANGUAGES:
        return requested
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        code, _, params = part.partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        language = code.strip().lower()[:2]
        if language in LANGUAGES and quality > 0:
            ranked.append((-quality, position, language))
    return min(ranked)[2] if ranked else default


def format_number(value: int, language: str) -> str:
    """Group digits the way each language does: 1.234.567 in Vietnamese, 1,234,567 in English."""
    grouped = f"{value:,}"
    return grouped.replace(",", ".") if language == "vi" else grouped


def format_money(minor: int, currency: str, language: str) -> str:
    if currency == "VND":
        return f"{format_number(minor, language)} ₫"
    return f"{format_number(minor // 100, language)}{'.' if language == 'en' else ','}{minor % 100:02d} {currency}"
