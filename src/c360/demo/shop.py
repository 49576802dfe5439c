"""Baskets and prices: what a person buys and what the order comes to, online and in store."""

from __future__ import annotations

import random
from typing import Any, Final

from c360.demo.catalog import CATEGORIES, Product
from c360.demo.draws import Weighted, weighted
from c360.demo.people import Person
from c360.demo.texts import PAYMENT_ONLINE, PAYMENT_POS

FREE_SHIPPING_FROM: Final = 499_000
SHIPPING_FEE: Final = 30_000
#: Vietnamese retail prices include VAT (the reduced 8 % rate of 2023-2026); `tax` reports the included part.
VAT_PERCENT: Final = 8
REFUND_RATE_FASHION: Final = 0.06  # sizes that do not fit
REFUND_RATE_OTHER: Final = 0.025
_QUANTITY = Weighted((1, 2, 3), (85.0, 12.0, 3.0))


class Order:
    """One order or receipt, priced. Amounts are VND integers."""

    __slots__ = (
        "channel",
        "coupon",
        "discount",
        "lines",
        "order_id",
        "payment",
        "shipping",
        "subtotal",
        "t_ms",
        "tax",
        "total",
    )

    def __init__(self, order_id: str, t_ms: int, channel: str, lines: list[tuple[Product, int]]) -> None:
        self.order_id = order_id
        self.t_ms = t_ms
        self.channel = channel  # "web", "app" or a store code
        self.lines = lines
        self.subtotal = sum(product.price * quantity for product, quantity in lines)
        self.discount = 0
        self.coupon: str | None = None
        self.shipping = 0
        self.tax = 0
        self.total = self.subtotal
        self.payment = ""

    @property
    def revenue(self) -> int:
        """Product value after discount, VAT included, shipping excluded."""
        return self.subtotal - self.discount

    def product_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "product_id": product.product_id,
                "sku": product.sku,
                "name": product.name,
                "category": product.category,
                "price": product.price,
                "quantity": quantity,
            }
            for product, quantity in self.lines
        ]

    def refund_total(self, lines: list[tuple[Product, int]]) -> int:
        """Money back for returned lines: their share of the discounted value; a full return also repays shipping."""
        if len(lines) == len(self.lines) and all(q == oq for (_, q), (_, oq) in zip(lines, self.lines, strict=True)):
            return self.total
        value = sum(product.price * quantity for product, quantity in lines)
        return value - (self.discount * value) // self.subtotal if self.subtotal else 0


class Shop:
    """The catalogue as customers meet it: popularity within categories, baskets, coupons, payment methods."""

    def __init__(self, catalog: list[Product]) -> None:
        self.catalog = catalog
        self.by_category: list[Weighted[Product]] = []
        for category in CATEGORIES:
            products = [p for p in catalog if p.category_slug == category.slug]
            # Zipf-like popularity inside a category: a few best sellers.
            self.by_category.append(Weighted(products, [1.0 / (rank + 1) ** 0.9 for rank in range(len(products))]))
        self.category = Weighted(list(range(len(CATEGORIES))), [c.popularity for c in CATEGORIES])
        self.payment_online = weighted(PAYMENT_ONLINE)
        self.payment_pos = weighted(PAYMENT_POS)

    def product(self, rng: random.Random, person: Person) -> Product:
        category = person.fav_category if rng.random() < 0.55 else self.category.pick(rng)
        picker = self.by_category[category]
        product: Product = picker.pick(rng)
        # Big spenders lean towards the dearest of a few candidates.
        for _ in range(min(3, int(person.basket_scale))):
            other: Product = picker.pick(rng)
            if other.price > product.price:
                product = other
        return product

    def basket(self, rng: random.Random, person: Person) -> list[tuple[Product, int]]:
        size = 1
        more = min(0.75, 0.25 * person.basket_scale)
        while size < 6 and rng.random() < more:
            size += 1
        lines: list[tuple[Product, int]] = []
        seen: set[int] = set()
        for _ in range(size):
            product = self.product(rng, person)
            if product.index in seen:
                continue
            seen.add(product.index)
            lines.append((product, _QUANTITY.pick(rng)))
        return lines

    def price(self, rng: random.Random, order: Order, *, sale_day: bool, online: bool) -> None:
        """Fill in coupon, discount, shipping, tax, total and payment method."""
        if rng.random() < (0.55 if sale_day else 0.18):
            if order.subtotal >= 500_000 and rng.random() < 0.5:
                order.coupon, order.discount = (
                    ("GIAM100K", 100_000) if order.subtotal >= 1_000_000 else ("GIAM50K", 50_000)
                )
            else:
                order.coupon, order.discount = "SALE10", order.subtotal // 10
        revenue = order.revenue
        if online:
            order.shipping = 0 if revenue >= FREE_SHIPPING_FROM else SHIPPING_FEE
            order.payment = self.payment_online.pick(rng)
        else:
            order.payment = self.payment_pos.pick(rng)
        order.tax = (revenue * VAT_PERCENT + (100 + VAT_PERCENT) // 2) // (100 + VAT_PERCENT)
        order.total = revenue + order.shipping

    def refund_chance(self, order: Order) -> float:
        fashion = any(CATEGORIES_BY_NAME[product.category] == "fashion" for product, _ in order.lines)
        return REFUND_RATE_FASHION if fashion else REFUND_RATE_OTHER


CATEGORIES_BY_NAME: Final = {category.name: category.family for category in CATEGORIES}
