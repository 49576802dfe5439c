"""The shop's catalogue: a few hundred fashion and cosmetics SKUs with realistic VND prices."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any, Final

from c360.domain.names_vi import strip_diacritics


@dataclass(frozen=True, slots=True)
class Category:
    slug: str
    name: str  # Vietnamese, as shown on the site
    family: str  # "fashion" or "cosmetics"
    sku_prefix: str
    min_price: int
    max_price: int
    products: int  # how many SKUs
    popularity: float  # share of demand
    female_affinity: float  # 0 = men only, 1 = women only, 0.5 = both
    nouns: tuple[str, ...]
    variants: tuple[str, ...]
    brands: tuple[str, ...]


_FASHION_BRANDS: Final = ("Sen Vàng", "Mây Studio", "Gạo Basics", "Lụa Saigon", "Tre Xanh")
_BEAUTY_BRANDS: Final = ("Hoa Cỏ", "Ngọc Trai Lab", "Mộc Lan Organics", "Sen Beauty", "Bưởi Botanics")
_COLOURS: Final = ("Trắng", "Đen", "Be", "Xanh navy", "Xám", "Hồng pastel", "Xanh rêu", "Nâu", "Đỏ đô")

# fmt: off
CATEGORIES: Final[tuple[Category, ...]] = (
    Category("ao-thun", "Áo thun", "fashion", "AT", 149_000, 399_000, 30, 9.0, 0.5,
             ("Áo thun cotton cổ tròn", "Áo thun oversize", "Áo polo", "Áo thun basic", "Áo thun in hình"),
             _COLOURS, _FASHION_BRANDS),
    Category("ao-so-mi", "Áo sơ mi", "fashion", "SM", 249_000, 699_000, 22, 5.0, 0.5,
             ("Áo sơ mi linen", "Áo sơ mi công sở", "Áo sơ mi oxford", "Áo kiểu cổ nơ"),
             _COLOURS, _FASHION_BRANDS),
    Category("quan", "Quần", "fashion", "QU", 299_000, 899_000, 26, 6.0, 0.5,
             ("Quần jeans ống đứng", "Quần jeans skinny", "Quần kaki", "Quần tây ống suông", "Quần short"),
             _COLOURS, _FASHION_BRANDS),
    Category("vay-dam", "Váy đầm", "fashion", "VD", 299_000, 1_290_000, 26, 7.0, 1.0,
             ("Đầm suông", "Đầm maxi hoa nhí", "Chân váy chữ A", "Đầm công sở", "Áo dài cách tân"),
             _COLOURS, _FASHION_BRANDS),
    Category("ao-khoac", "Áo khoác", "fashion", "AK", 399_000, 1_490_000, 16, 3.0, 0.5,
             ("Áo khoác gió", "Áo blazer", "Áo khoác jeans", "Áo cardigan len"),
             _COLOURS, _FASHION_BRANDS),
    Category("giay-dep", "Giày dép", "fashion", "GD", 290_000, 2_490_000, 22, 5.0, 0.55,
             ("Giày sneaker", "Giày cao gót", "Sandal quai mảnh", "Giày lười da", "Dép quai ngang"),
             ("Trắng", "Đen", "Be", "Nâu", "Kem"), _FASHION_BRANDS),
    Category("tui-xach", "Túi xách", "fashion", "TX", 249_000, 3_490_000, 18, 4.0, 0.85,
             ("Túi tote canvas", "Túi đeo chéo da", "Túi xách công sở", "Ví cầm tay", "Balo mini"),
             ("Đen", "Nâu", "Kem", "Hồng", "Xanh"), _FASHION_BRANDS),
    Category("phu-kien", "Phụ kiện", "fashion", "PK", 49_000, 390_000, 24, 4.0, 0.6,
             ("Mũ bucket", "Thắt lưng da", "Khăn lụa", "Tất cổ ngắn (3 đôi)", "Kẹp tóc", "Kính mát"),
             _COLOURS, _FASHION_BRANDS),
    Category("son-moi", "Son môi", "cosmetics", "SO", 89_000, 690_000, 28, 9.0, 0.97,
             ("Son kem lì", "Son thỏi dưỡng ẩm", "Son tint bóng", "Son dưỡng có màu"),
             ("01 Đỏ gạch", "02 Hồng đất", "03 Cam cháy", "04 Đỏ thuần", "05 Nude", "06 Hồng baby"),
             _BEAUTY_BRANDS),
    Category("cham-soc-da", "Chăm sóc da", "cosmetics", "CS", 99_000, 1_590_000, 34, 11.0, 0.85,
             ("Sữa rửa mặt", "Nước tẩy trang", "Toner cân bằng", "Serum vitamin C", "Kem dưỡng ẩm",
              "Mặt nạ giấy (hộp 10 miếng)", "Serum niacinamide"),
             ("30ml", "50ml", "100ml", "150ml", "200ml", "400ml"), _BEAUTY_BRANDS),
    Category("chong-nang", "Kem chống nắng", "cosmetics", "CN", 129_000, 590_000, 14, 6.0, 0.8,
             ("Kem chống nắng SPF50+ PA++++", "Xịt chống nắng", "Sữa chống nắng nâng tông"),
             ("30ml", "50ml", "60ml", "100ml"), _BEAUTY_BRANDS),
    Category("trang-diem", "Trang điểm", "cosmetics", "TD", 99_000, 990_000, 26, 6.0, 0.98,
             ("Phấn phủ kiềm dầu", "Kem nền", "Cushion", "Mascara", "Kẻ mắt nước", "Bảng phấn mắt", "Má hồng"),
             ("Tone 01", "Tone 02", "Tone 03", "Mini", "Full size"), _BEAUTY_BRANDS),
    Category("nuoc-hoa", "Nước hoa", "cosmetics", "NH", 390_000, 3_500_000, 16, 3.0, 0.7,
             ("Nước hoa Eau de Parfum", "Nước hoa Eau de Toilette", "Xịt thơm toàn thân"),
             ("10ml", "30ml", "50ml", "100ml"), _BEAUTY_BRANDS),
    Category("cham-soc-toc", "Chăm sóc tóc", "cosmetics", "TC", 69_000, 450_000, 16, 4.0, 0.7,
             ("Dầu gội thảo dược", "Dầu xả phục hồi", "Tinh dầu dưỡng tóc", "Xịt dưỡng tóc bưởi"),
             ("250ml", "300ml", "500ml", "140ml"), _BEAUTY_BRANDS),
    Category("cham-soc-co-the", "Chăm sóc cơ thể", "cosmetics", "CT", 49_000, 390_000, 16, 4.0, 0.75,
             ("Sữa tắm", "Tẩy tế bào chết cơ thể", "Sữa dưỡng thể", "Lăn khử mùi", "Kem dưỡng tay"),
             ("200ml", "300ml", "500ml", "50ml"), _BEAUTY_BRANDS),
)
# fmt: on


@dataclass(frozen=True, slots=True)
class Product:
    index: int
    product_id: str
    sku: str
    name: str
    category: str  # category name, as the site shows it
    category_slug: str
    brand: str
    price: int  # VND, VAT included
    slug: str  # URL path segment

    def properties(self) -> dict[str, Any]:
        """Segment E-commerce v2 product properties (`Product Viewed`)."""
        return {
            "product_id": self.product_id,
            "sku": self.sku,
            "name": self.name,
            "category": self.category,
            "brand": self.brand,
            "price": self.price,
            "currency": "VND",
        }


def _price(rng: random.Random, low: int, high: int) -> int:
    # Log-uniform, then rounded the way Vietnamese shops price: ...9.000 below a million, ...90.000 above.
    value = math.exp(rng.uniform(math.log(low), math.log(high)))
    if value < 1_000_000:
        price = int(value // 10_000) * 10_000 + 9_000
    else:
        price = int(value // 100_000) * 100_000 + 90_000
    return max(low, min(high, price))


def _slug(text: str) -> str:
    words = "".join(c if c.isalnum() else " " for c in strip_diacritics(text).lower()).split()
    return "-".join(words)


def build_catalog(rng: random.Random) -> list[Product]:
    """The SKUs of the shop, the same for the same random state."""
    products: list[Product] = []
    for category in CATEGORIES:
        seen: set[str] = set()
        number = 0
        while number < category.products:
            noun = rng.choice(category.nouns)
            variant = rng.choice(category.variants)
            brand = rng.choice(category.brands)
            name = f"{noun} {brand} - {variant}"
            if name in seen:
                continue
            seen.add(name)
            number += 1
            index = len(products)
            sku = f"{category.sku_prefix}{number:03d}-{_slug(variant).replace('-', '').upper()[:5]}"
            products.append(
                Product(
                    index=index,
                    product_id=str(100_000 + index * 7),
                    sku=sku,
                    name=name,
                    category=category.name,
                    category_slug=category.slug,
                    brand=brand,
                    price=_price(rng, category.min_price, category.max_price),
                    slug=f"{_slug(noun)}-{sku.lower()}",
                )
            )
    return products
