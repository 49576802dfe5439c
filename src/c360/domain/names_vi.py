"""Vietnamese personal names: frequency tables and diacritics folding.

Pure data and pure functions (no I/O): the demo generator draws names from these tables, and identity resolution
reuses `strip_diacritics` / `fold_name` to compare `Nguyễn Văn An` with `NGUYEN VAN AN`.

A Vietnamese full name is written family name first, then an optional middle name, then the given name, which is
the name people are called by (`Nguyễn Văn An` is "An"). Family-name shares follow published surveys of the
population; given and middle names are gendered and ranked roughly by popularity.
"""

from __future__ import annotations

import unicodedata
from typing import Final

#: (family name, share of the population in percent). The tail after Lý is spread over less common names.
FAMILY_NAMES: Final[tuple[tuple[str, float], ...]] = (
    ("Nguyễn", 38.0),
    ("Trần", 11.0),
    ("Lê", 9.5),
    ("Phạm", 7.0),
    ("Hoàng", 2.6),
    ("Huỳnh", 2.4),
    ("Phan", 4.5),
    ("Vũ", 2.0),
    ("Võ", 1.9),
    ("Đặng", 2.0),
    ("Bùi", 2.0),
    ("Đỗ", 1.4),
    ("Hồ", 1.3),
    ("Ngô", 1.3),
    ("Dương", 1.0),
    ("Lý", 0.5),
    ("Trương", 0.8),
    ("Đinh", 0.6),
    ("Đào", 0.5),
    ("Đoàn", 0.5),
    ("Lâm", 0.4),
    ("Mai", 0.4),
    ("Trịnh", 0.4),
    ("Lương", 0.35),
    ("Cao", 0.3),
    ("Hà", 0.3),
    ("Tạ", 0.25),
    ("Lưu", 0.25),
    ("Phùng", 0.2),
    ("Vương", 0.2),
    ("Tô", 0.2),
    ("Châu", 0.2),
    ("Quách", 0.15),
    ("Thái", 0.15),
    ("Tăng", 0.12),
    ("La", 0.1),
    ("Kiều", 0.1),
    ("Triệu", 0.1),
    ("Hứa", 0.1),
    ("Thân", 0.08),
    ("Từ", 0.08),
    ("Diệp", 0.06),
    ("Lục", 0.05),
    ("Khúc", 0.04),
    ("Âu", 0.04),
)

#: Middle names by gender. The second weight applies to people born before 1985, when Văn and Thị were the norm.
MIDDLE_NAMES_MALE: Final[tuple[tuple[str, float, float], ...]] = (
    ("Văn", 12.0, 45.0),
    ("Minh", 12.0, 8.0),
    ("Đức", 9.0, 8.0),
    ("Hoàng", 6.0, 3.0),
    ("Quốc", 6.0, 4.0),
    ("Hữu", 5.0, 6.0),
    ("Thành", 5.0, 4.0),
    ("Công", 4.0, 4.0),
    ("Quang", 5.0, 4.0),
    ("Tuấn", 4.0, 2.0),
    ("Gia", 5.0, 0.5),
    ("Anh", 4.0, 1.0),
    ("Trung", 3.0, 2.0),
    ("Xuân", 2.0, 3.0),
    ("Duy", 4.0, 1.0),
    ("Đình", 3.0, 5.0),
    ("Thanh", 3.0, 3.0),
    ("Bảo", 4.0, 0.5),
    ("Nhật", 3.0, 0.5),
    ("Tiến", 2.0, 2.0),
    ("Trọng", 2.0, 2.0),
    ("Ngọc", 1.5, 2.0),
    ("Khánh", 2.0, 0.5),
    ("Hải", 2.0, 1.0),
    ("Phúc", 1.5, 0.5),
    ("Thiên", 1.5, 0.2),
)
MIDDLE_NAMES_FEMALE: Final[tuple[tuple[str, float, float], ...]] = (
    ("Thị", 14.0, 55.0),
    ("Ngọc", 10.0, 6.0),
    ("Thu", 6.0, 5.0),
    ("Thanh", 6.0, 5.0),
    ("Phương", 5.0, 2.0),
    ("Minh", 5.0, 1.0),
    ("Kim", 4.0, 4.0),
    ("Bảo", 5.0, 0.5),
    ("Hồng", 4.0, 3.0),
    ("Khánh", 4.0, 0.5),
    ("Mai", 3.0, 1.5),
    ("Lan", 2.0, 1.5),
    ("Hoài", 2.0, 1.0),
    ("Thúy", 2.0, 2.0),
    ("Mỹ", 3.0, 2.0),
    ("Quỳnh", 3.0, 0.5),
    ("Bích", 1.5, 2.0),
    ("Ánh", 1.5, 0.5),
    ("Cẩm", 1.5, 1.0),
    ("Gia", 3.0, 0.2),
    ("Hải", 2.0, 0.5),
    ("Như", 2.0, 0.5),
    ("Diễm", 1.5, 0.5),
    ("Tường", 1.0, 0.2),
    ("Xuân", 1.5, 1.5),
    ("Thảo", 1.5, 0.3),
)

# fmt: off
#: Given names ranked by popularity (the generator weights them by 1 / rank^0.8).
GIVEN_NAMES_MALE: Final[tuple[str, ...]] = (
    "Anh", "Minh", "Tuấn", "Hùng", "Dũng", "Huy", "Nam", "Hoàng", "Long", "Đức",
    "Khoa", "Phúc", "Quân", "Thành", "Trung", "Hải", "Sơn", "Tùng", "Thắng", "Việt",
    "Bảo", "Khang", "Duy", "Hiếu", "Tâm", "Tài", "Phong", "Đạt", "Hưng", "Quang",
    "Cường", "Kiên", "Khánh", "Lâm", "Lộc", "Nghĩa", "Nhân", "Phát", "Quốc", "Tín",
    "Toàn", "Trí", "Tú", "Vinh", "Vũ", "An", "Bình", "Chiến", "Công", "Danh",
    "Dương", "Định", "Đông", "Giang", "Hào", "Hậu", "Hiển", "Hiệp", "Hòa", "Khải",
    "Khôi", "Kiệt", "Khiết", "Luân", "Lực", "Mạnh", "Nguyên", "Nhật", "Phú", "Phước",
    "Quý", "Sang", "Tân", "Thái", "Thịnh", "Thông", "Tiến", "Trọng", "Trường", "Vương",
    "Bách", "Cảnh", "Chính", "Đăng", "Điền", "Hoan", "Huân", "Khiêm", "Lợi", "Nhựt",
    "Quyết", "Sỹ", "Thạch", "Thiện", "Thuận", "Triết", "Tường", "Vĩnh", "Hoà", "Đại",
    "Hiền", "Hữu", "Kha", "Lân", "Mẫn", "Ninh", "Pháp", "Quyền", "Tấn", "Thiên",
    "Tịnh", "Vỹ", "Khoát", "Hạo", "Khương", "Nhất", "Uy", "Sâm", "Lĩnh", "Đạo",
)
GIVEN_NAMES_FEMALE: Final[tuple[str, ...]] = (
    "Linh", "Anh", "Trang", "Hương", "Ngọc", "Thảo", "Hà", "Lan", "Mai", "Phương",
    "Nhung", "Hằng", "Hạnh", "Huyền", "Thủy", "Yến", "Trâm", "Nhi", "Vy", "Ngân",
    "Quỳnh", "Hoa", "Thu", "Giang", "My", "Chi", "Dung", "Hiền", "Loan", "Uyên",
    "Tâm", "Thư", "Trinh", "Vân", "Diễm", "Hồng", "Nga", "Oanh", "Thúy", "Tuyết",
    "An", "Ánh", "Bích", "Châu", "Cúc", "Diệp", "Duyên", "Hân", "Khánh", "Khuê",
    "Kim", "Liên", "Ly", "Mỹ", "Nguyệt", "Như", "Phượng", "Quyên", "Tiên", "Trúc",
    "Xuân", "Hoài", "Đào", "Lam", "Lệ", "Nương", "Quế", "Sương", "Thắm", "Thoa",
    "Thục", "Thương", "Trà", "Trân", "Tuyền", "Thùy", "Thơ", "Hường", "Hậu", "Vi",
    "Băng", "Cầm", "Dao", "Điệp", "Hiên", "Huệ", "Kiều", "Lụa", "Minh", "Mơ",
    "Nhàn", "Nhã", "Nhiên", "Phấn", "San", "Thi", "Thêu", "Tố", "Hạ", "Ý",
    "Trầm", "Tú", "Tươi", "Vui", "Xoan", "Yên", "Hảo", "Hoan", "Lài", "Ngà",
    "Phụng", "Quyến", "Sen", "Tịnh", "Hoàn", "Ngát", "Hiếu", "Lành", "Mận", "Đan",
)
# fmt: on

#: Characters that Unicode decomposition does not reduce to ASCII. Đ/đ is a letter of its own, not D with a mark.
_NON_DECOMPOSING: Final[dict[str, str]] = {"Đ": "D", "đ": "d", "Ð": "D"}


def _build_fold_table() -> dict[int, str]:
    table: dict[int, str] = {ord(k): v for k, v in _NON_DECOMPOSING.items()}
    # Latin-1 Supplement and Latin Extended-A/B plus Latin Extended Additional (U+1EA0-U+1EF9, the Vietnamese block).
    for code in list(range(0xC0, 0x250)) + list(range(0x1E00, 0x1F00)):
        char = chr(code)
        if char in _NON_DECOMPOSING:
            continue
        base = "".join(c for c in unicodedata.normalize("NFD", char) if not unicodedata.combining(c))
        if base != char and base.isascii():
            table[code] = base
    # Stray combining marks (text typed in decomposed form) simply disappear.
    for code in range(0x300, 0x370):
        table[code] = ""
    return table


_FOLD_TABLE: Final[dict[int, str]] = _build_fold_table()


def strip_diacritics(text: str) -> str:
    """`Nguyễn Văn Đức` -> `Nguyen Van Duc`: drop tone and vowel marks, Đ/đ -> D/d, keep case and spacing."""
    return text.translate(_FOLD_TABLE)


def has_diacritics(text: str) -> bool:
    """True when `text` carries any Vietnamese mark (so `strip_diacritics` would change it)."""
    return strip_diacritics(text) != text


def fold_name(text: str) -> str:
    """A comparison key for names: NFC, no marks, lower case, single spaces (`  NGUYỄN  văn An` -> `nguyen van an`)."""
    return " ".join(strip_diacritics(unicodedata.normalize("NFC", text)).lower().split())


def split_full_name(full_name: str) -> tuple[str, str, str]:
    """Split a name written family-name-first into (family, middle, given); middle may hold several words."""
    parts = full_name.split()
    if not parts:
        return "", "", ""
    if len(parts) == 1:
        return "", "", parts[0]
    return parts[0], " ".join(parts[1:-1]), parts[-1]
