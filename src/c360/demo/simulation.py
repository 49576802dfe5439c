"""The discrete-event simulation that produces the Segment event stream, in (timestamp, messageId) order.

Every person runs up to three Poisson processes on the shop's calendar (browse sessions, online purchases, store
purchases); one heap holds the next action of every process, so the world advances in time order with memory
proportional to the number of people, not of events. A session writes all its events at once into a small
reorder heap; an event leaves that heap as soon as no later action can produce an earlier event (every action
starts at or after the one being processed), so `iter_events` streams in order.

Randomness: `rng` drives behaviour and the event stream; everything that only feeds the CSV sources (store
baskets, tickets, surveys, written variants) draws from the side sink's own generators. Events are therefore the
same bytes whether or not the CSV sources are written.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterator
from heapq import heappop, heappush
from itertools import count
from typing import Any, Final, Protocol

from c360.demo.campaigns import sale_of
from c360.demo.catalog import CATEGORIES, Product, build_catalog
from c360.demo.config import GeneratorConfig
from c360.demo.draws import uuid_from_bits
from c360.demo.people import Device, PeopleBuilder, Person
from c360.demo.shop import Order, Shop
from c360.demo.shop_calendar import DAY_MS, Clock, Intensity, local_midnight_ms
from c360.demo.texts import (
    EVERGREEN_CAMPAIGNS,
    REFERRERS,
    SEARCH_TERMS,
    SERVER_LIBRARY,
    SHOP_URL,
    UTM_SOURCES,
)
from c360.demo.variants import (
    NAME_RATES,
    official_province,
    write_email,
    write_name_parts,
    write_phone,
    write_province,
)

BROWSE: Final = 0
ONLINE_ORDER: Final = 1
STORE_ORDER: Final = 2
REFUND: Final = 3

SITE_TITLE: Final = "Sen Vàng"
Message = dict[str, Any]


class SideSink(Protocol):
    """Receives what the event stream does not carry: store purchases, and orders that may lead to a ticket."""

    def store_purchase(self, person: Person, t_ms: int) -> None: ...

    def online_order(self, person: Person, order: Order) -> None: ...

    def refund(self, person: Person, t_ms: int, order: Order, amount: int) -> None: ...

    def advance(self, t_ms: int) -> None: ...


def seeded(seed: int, purpose: str) -> random.Random:
    """An independent generator per purpose (a str seed is hashed with SHA-512, stable across runs)."""
    return random.Random(f"c360.demo/{seed}/{purpose}")


class Simulation:
    """One run of the world for a config. Build it, then iterate `events()` once."""

    def __init__(
        self,
        cfg: GeneratorConfig,
        side: SideSink | None = None,
        on_day: Callable[[int], None] | None = None,
    ) -> None:
        self.cfg = cfg
        self.side = side
        self.on_day = on_day
        self.rng = random.Random(cfg.seed)
        self.people = PeopleBuilder(cfg, seeded(cfg.seed, "people")).build()
        self.shop = Shop(build_catalog(seeded(cfg.seed, "catalog")))
        self.start_ms = local_midnight_ms(cfg.start_date)
        self.end_ms = self.start_ms + cfg.days * DAY_MS
        self.online = Intensity.for_period(cfg.start_date, cfg.days, store=False)
        self.store = Intensity.for_period(cfg.start_date, cfg.days, store=True)
        self.clock = Clock()
        self.orders = 0
        self.sales: list[tuple[str, str] | None] = [
            sale_of(cfg.start_date + dt.timedelta(days=offset)) for offset in range(cfg.days)
        ]
        self._heap: list[tuple[int, int, int, Person, Any]] = []
        self._out: list[tuple[int, str, Message]] = []
        self._seq = count()

    # -- the event loop -----------------------------------------------------------------------------------------

    def events(self) -> Iterator[Message]:
        rng = self.rng
        expo = rng.expovariate
        heap = self._heap
        out = self._out
        seq = self._seq
        online, store = self.online, self.store
        side = self.side
        for person in self.people:
            self._start(person)
        day_end = self.start_ms + DAY_MS
        days_done = 0
        while heap:
            t, _, kind, person, payload = heappop(heap)
            while out and out[0][0] < t:
                yield heappop(out)[2]
            while t >= day_end:
                days_done += 1
                day_end += DAY_MS
                if self.on_day is not None:
                    self.on_day(days_done)
            if side is not None:
                side.advance(t)
            if kind == REFUND:
                self._refund(person, t, payload)
                continue
            if not person.alive:
                continue
            if kind == BROWSE:
                ended = self._browse(person, t)
                if person.kind == "visitor" and rng.random() < person.visitor_quit:
                    person.alive = False
                    person.dropped_ms = ended
                    continue
                nxt = online.next_after(t, person.browse_rate, expo(1.0))
            elif kind == ONLINE_ORDER:
                order = self._online_order(person, t)
                if order is not None:
                    self._after_purchase(person, order.t_ms)
                nxt = online.next_after(t, person.purchase_rate * (1.0 - person.store_share), expo(1.0))
            else:
                self._after_purchase(person, t)
                if side is not None:
                    side.store_purchase(person, t)
                nxt = store.next_after(t, person.purchase_rate * person.store_share, expo(1.0))
            if nxt is not None and person.alive:
                heappush(heap, (nxt, next(seq), kind, person, None))
        while out:
            yield heappop(out)[2]
        if self.on_day is not None:
            self.on_day(self.cfg.days)

    def _start(self, person: Person) -> None:
        if not person.alive:
            return
        rng = self.rng
        t0 = max(self.start_ms, person.first_seen_ms)
        schedule = (
            (BROWSE, self.online, person.browse_rate if person.devices else 0.0),
            (ONLINE_ORDER, self.online, person.purchase_rate * (1.0 - person.store_share) if person.devices else 0.0),
            (STORE_ORDER, self.store, person.purchase_rate * person.store_share),
        )
        for kind, intensity, rate in schedule:
            if rate > 0.0:
                nxt = intensity.next_after(t0, rate, rng.expovariate(1.0))
                if nxt is not None:
                    heappush(self._heap, (nxt, next(self._seq), kind, person, None))

    def _after_purchase(self, person: Person, t: int) -> None:
        # BG/NBD: after every purchase the customer may become inactive for good.
        if self.rng.random() < person.dropout_p:
            person.alive = False
            person.dropped_ms = t

    # -- sessions -----------------------------------------------------------------------------------------------

    def _device(self, person: Person) -> Device:
        rng = self.rng
        if person.app_devices and (not person.web_devices or rng.random() < person.app_share):
            return person.app_devices[0]
        webs = person.web_devices
        return webs[0] if len(webs) == 1 else webs[int(rng.random() * len(webs))]

    def _session(self, person: Person, t: int) -> _Session:
        s = _Session(self, person, self._device(person), t)
        if s.device.identified and not s.device.announced:
            # A device logged in before the period says who it is on its first visit of the period: the SDKs
            # send identify with the stored traits when a logged-in session starts, as most shops set them up.
            s.device.announced = True
            s.identify({"email": write_email(person.email or "", self.rng, 0.1, 0.05)})
        return s

    def _landing(self, s: _Session, utm_share: float) -> None:
        rng = self.rng
        day = (s.t - self.start_ms) // DAY_MS
        sale = self.sales[day] if 0 <= day < len(self.sales) else None
        search = ""
        if rng.random() < utm_share:
            source, medium = UTM_SOURCES[int(rng.random() * len(UTM_SOURCES))]
            campaign = sale[0] if sale is not None and rng.random() < 0.7 else rng.choice(EVERGREEN_CAMPAIGNS)
            search = f"?utm_source={source}&utm_medium={medium}&utm_campaign={campaign}"
            s.referrer = _REFERRER_OF.get(source, "")
        else:
            s.referrer = REFERRERS[int(rng.random() * len(REFERRERS))]
        roll = rng.random()
        if sale is not None and roll < 0.45:
            s.page("Promotion", f"/khuyen-mai/{sale[0]}", f"{sale[1]} | {SITE_TITLE}", search, "Promotion")
        elif roll < 0.55:
            s.page("Home", "/", f"{SITE_TITLE} - Thời trang & Mỹ phẩm", search, "Home")
        elif roll < 0.85:
            category = CATEGORIES[s.person.fav_category if rng.random() < 0.6 else int(rng.random() * len(CATEGORIES))]
            s.page("Category", f"/danh-muc/{category.slug}", f"{category.name} | {SITE_TITLE}", search, "Category")
        else:
            term = rng.choice(SEARCH_TERMS)
            query = "?q=" + term.replace(" ", "+")
            s.page("Search", "/tim-kiem", f"Tìm kiếm: {term} | {SITE_TITLE}", search or query, "Search")
            s.track("Products Searched", {"query": term})

    def _view(self, s: _Session, product: Product) -> None:
        s.step()
        s.page("Product", f"/san-pham/{product.slug}", f"{product.name} | {SITE_TITLE}", "", "Product Detail")
        s.t += 150 + int(self.rng.random() * 1350)
        s.track("Product Viewed", _product_props(product))

    def _browse(self, person: Person, t: int) -> int:
        """A visit without purchase; returns when it ended."""
        rng = self.rng
        s = self._session(person, t)
        self._landing(s, 0.3)
        device = s.device
        if person.kind == "member" and not device.identified:
            if person.registered_ms is not None:
                if rng.random() < 0.25:
                    s.step()
                    self._identify(s, full=rng.random() < 0.3)
            elif rng.random() < 0.06:
                s.step()
                self._identify(s, full=True)
        views = 1
        while views < 6 and rng.random() < 0.5:
            views += 1
        product: Product | None = None
        for _ in range(views):
            product = self.shop.product(rng, person)
            self._view(s, product)
        if product is not None and rng.random() < 0.22:
            s.step()
            s.track("Product Added", _added_props(product, 1, s.cart_id))
            if rng.random() < 0.3:
                s.step()
                s.page("Cart", "/gio-hang", f"Giỏ hàng | {SITE_TITLE}", "", "Cart")
                s.step()
                s.track(
                    "Checkout Started",
                    {
                        "checkout_id": s.checkout_id(),
                        "value": product.price,
                        "currency": "VND",
                        "products": [_line_props(product, 1)],
                    },
                )
        s.flush()
        return s.t

    def _online_order(self, person: Person, t: int) -> Order | None:
        rng = self.rng
        shop = self.shop
        s = self._session(person, t)
        self._landing(s, 0.4)
        lines = shop.basket(rng, person)
        for product, quantity in lines:
            if rng.random() < 0.3:
                self._view(s, shop.product(rng, person))
            self._view(s, product)
            s.step()
            s.track("Product Added", _added_props(product, quantity, s.cart_id))
        s.step()
        s.page("Cart", "/gio-hang", f"Giỏ hàng | {SITE_TITLE}", "", "Cart")
        if not s.device.identified:
            s.step()
            self._identify(s, full=person.registered_ms is None or rng.random() < 0.5)
        day = (s.t - self.start_ms) // DAY_MS
        self.orders += 1
        order = Order(f"SV{self.orders:08d}", s.t, s.device.platform, lines)
        shop.price(rng, order, sale_day=0 <= day < len(self.sales) and self.sales[day] is not None, online=True)
        checkout_id = s.checkout_id()
        s.step()
        started: dict[str, Any] = {
            "checkout_id": checkout_id,
            "order_id": order.order_id,
            "value": order.subtotal,
            "revenue": order.revenue,
            "shipping": order.shipping,
            "tax": order.tax,
            "discount": order.discount,
            "currency": "VND",
            "products": order.product_rows(),
        }
        if order.coupon is not None:
            started["coupon"] = order.coupon
        s.track("Checkout Started", started)
        s.step()
        s.page("Checkout", "/thanh-toan", f"Thanh toán | {SITE_TITLE}", "", "Checkout")
        s.step()
        if s.t >= self.end_ms:
            s.flush()  # the export stops before the order went through
            self.orders -= 1
            return None
        order.t_ms = s.t
        completed: dict[str, Any] = {
            "checkout_id": checkout_id,
            "order_id": order.order_id,
            "affiliation": "Sen Vàng App" if s.device.platform == "app" else "Sen Vàng Online",
            "total": order.total,
            "revenue": order.revenue,
            "shipping": order.shipping,
            "tax": order.tax,
            "discount": order.discount,
            "currency": "VND",
            "payment_method": order.payment,
            "products": order.product_rows(),
        }
        if order.coupon is not None:
            completed["coupon"] = order.coupon
        s.track("Order Completed", completed)
        s.t += 500 + int(rng.random() * 2500)
        s.page(
            "Order Confirmation",
            "/dat-hang-thanh-cong",
            f"Đặt hàng thành công | {SITE_TITLE}",
            "",
            "Order Confirmation",
        )
        s.flush()
        person.orders += 1
        person.revenue += order.total
        if rng.random() < shop.refund_chance(order):
            refund_at = order.t_ms + rng.randrange(2 * DAY_MS, 20 * DAY_MS)
            if refund_at < self.end_ms:
                heappush(self._heap, (refund_at, next(self._seq), REFUND, person, order))
        if self.side is not None:
            self.side.online_order(person, order)
        return order

    def _refund(self, person: Person, t: int, order: Order) -> None:
        rng = self.rng
        lines = order.lines
        if len(lines) > 1 and rng.random() < 0.6:
            keep = rng.randrange(1, len(lines))
            returned = [lines[i] for i in sorted(rng.sample(range(len(lines)), len(lines) - keep))]
        elif lines[0][1] > 1 and rng.random() < 0.5:
            returned = [(lines[0][0], lines[0][1] - 1)]
        else:
            returned = list(lines)
        amount = order.refund_total(returned)
        user_id = person.user_id
        message: Message = {
            "type": "track",
            "messageId": uuid_from_bits(rng.getrandbits(128)),
            "timestamp": self.clock.iso_utc(t),
            "sentAt": self.clock.iso_utc(t + rng.randrange(5, 60)),
            "userId": user_id,
            "anonymousId": None,
            "context": dict(_SERVER_CONTEXT),
            "event": "Order Refunded",
            "properties": {
                "order_id": order.order_id,
                "total": amount,
                "currency": "VND",
                "products": [_line_props(product, quantity) for product, quantity in returned],
            },
        }
        heappush(self._out, (t, message["messageId"], message))
        person.refunded += amount
        person.satisfaction *= 0.8
        if self.side is not None:
            self.side.refund(person, t, order, amount)

    def _identify(self, s: _Session, *, full: bool) -> None:
        """Log in (or sign up): from here on the device's events carry the userId."""
        rng = self.rng
        person = s.person
        device = s.device
        assert person.user_id is not None, "only members log in"
        assert person.email is not None, "every member has an email"
        if s.t >= self.end_ms:
            return  # past the end of the export: nothing of this happened
        if person.registered_ms is None:
            person.registered_ms = s.t
            full = True
        device.identified = True
        device.announced = True
        s.user_id = person.user_id
        traits: dict[str, Any] = {"email": write_email(person.email, rng, 0.1, 0.05)}
        if full:
            name, first, last = write_name_parts(person, rng, NAME_RATES["identify"])
            traits["phone"] = write_phone(person.phone, rng, "identify")
            traits["name"] = name
            traits["firstName"] = first
            traits["lastName"] = last
            if rng.random() < 0.8:
                traits["birthday"] = person.birthday.isoformat()
            traits["gender"] = person.gender
            traits["address"] = {
                "street": person.street,
                "city": write_province(person.old_province, s.t, rng),
                "state": official_province(person.old_province, s.t),
                "country": "VN",
            }
        s.identify(traits)


_REFERRER_OF: Final = {
    "google": "https://www.google.com/",
    "facebook": "https://m.facebook.com/",
    "tiktok": "https://www.tiktok.com/",
    "zalo": "https://zalo.me/",
    "coccoc": "https://coccoc.com/",
}
_SERVER_CONTEXT: Final = {"library": SERVER_LIBRARY}


def _product_props(product: Product) -> dict[str, Any]:
    return {
        "product_id": product.product_id,
        "sku": product.sku,
        "name": product.name,
        "category": product.category,
        "brand": product.brand,
        "price": product.price,
        "currency": "VND",
        "url": f"{SHOP_URL}/san-pham/{product.slug}",
    }


def _added_props(product: Product, quantity: int, cart_id: str) -> dict[str, Any]:
    props = _product_props(product)
    props["quantity"] = quantity
    props["cart_id"] = cart_id
    return props


def _line_props(product: Product, quantity: int) -> dict[str, Any]:
    return {
        "product_id": product.product_id,
        "sku": product.sku,
        "name": product.name,
        "category": product.category,
        "price": product.price,
        "quantity": quantity,
    }


class _Session:
    """One visit on one device: writes messages with a moving clock and the right ids and context."""

    __slots__ = (
        "_checkout",
        "buffer",
        "cart_id",
        "context",
        "device",
        "page_context",
        "person",
        "referrer",
        "sim",
        "t",
        "user_id",
        "web",
    )

    def __init__(self, sim: Simulation, person: Person, device: Device, t: int) -> None:
        rng = sim.rng
        self.sim = sim
        self.person = person
        self.device = device
        self.t = max(t, device.busy_until + 1000)
        self.user_id = person.user_id if device.identified else None
        context = dict(device.context)
        random_ = rng.random
        context["ip"] = f"{device.ip_prefix}.{int(random_() * 256)}.{1 + int(random_() * 254)}"
        self.context = context
        self.page_context = context
        self.referrer = ""
        self.web = device.platform == "web"
        self.buffer: list[tuple[int, str, Message]] = []
        self.cart_id = uuid_from_bits(rng.getrandbits(128))
        self._checkout: str | None = None

    def checkout_id(self) -> str:
        if self._checkout is None:
            self._checkout = uuid_from_bits(self.sim.rng.getrandbits(128))
        return self._checkout

    def step(self) -> None:
        """Think time before the next action: seconds to a couple of minutes."""
        self.t += 2000 + int(self.sim.rng.expovariate(1.0 / 22000.0))

    def _message(self, kind: str) -> Message:
        sim = self.sim
        rng = sim.rng
        iso = sim.clock.iso_utc
        t = self.t
        # Browsers send at once; mobile SDKs batch and flush every few seconds.
        latency = 20 + int(rng.random() * 380) if self.web else 500 + int(rng.random() * 29500)
        message: Message = {
            "type": kind,
            "messageId": uuid_from_bits(rng.getrandbits(128)),
            "timestamp": iso(t),
            "sentAt": iso(t + latency),
            "userId": self.user_id,
            "anonymousId": self.device.anon_id,
            # A context of its own per message, so a consumer that edits one does not edit its neighbours.
            "context": dict(self.page_context),
        }
        self.buffer.append((t, message["messageId"], message))
        return message

    def page(self, name: str, path: str, title: str, search: str, screen: str) -> None:
        if self.web:
            url = f"{SHOP_URL}{path}{search}"
            page = {"path": path, "referrer": self.referrer, "search": search, "title": title, "url": url}
            context = dict(self.context)
            context["page"] = page
            self.page_context = context
            message = self._message("page")
            message["name"] = name
            message["properties"] = page
            self.referrer = url
        else:
            message = self._message("screen")
            message["name"] = screen
            message["properties"] = {"name": screen}

    def track(self, event: str, properties: dict[str, Any]) -> None:
        message = self._message("track")
        message["event"] = event
        message["properties"] = properties

    def identify(self, traits: dict[str, Any]) -> None:
        message = self._message("identify")
        message["traits"] = traits

    def flush(self) -> None:
        """Hand the session's messages to the reorder heap, dropping any past the end of the period."""
        end = self.sim.end_ms
        out = self.sim._out
        for item in self.buffer:
            if item[0] < end:
                heappush(out, item)
        self.buffer = []
        self.device.busy_until = self.t
