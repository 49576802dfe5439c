"""The simulated people: who they are (the truth) and how they behave (the parameters of their processes).

Three kinds of people:
- `member`: has (or gets) an online account, shops on the web, in the app and possibly in a store;
- `shopper`: shops only in stores, known by phone (and to the CRM when they join the loyalty club);
- `visitor`: browses the web or app and never identifies.

Purchases follow a BG/NBD-like process: a person-level rate (gamma-distributed, so a few people buy a lot) and a
dropout probability after each purchase (beta-distributed), after which the person stops buying and browsing.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any, Final

from c360.demo.catalog import CATEGORIES
from c360.demo.config import GeneratorConfig
from c360.demo.draws import Weighted, ranked, uuid_from_bits, weighted
from c360.demo.shop_calendar import DAY_MS, local_midnight_ms
from c360.demo.stores import STORES_BY_UNIT, Store
from c360.demo.texts import (
    ANALYTICS_JS,
    APP_DEVICES,
    APP_LIBRARY,
    APP_NAME,
    APP_NAMESPACE,
    IP_PREFIXES,
    STREETS,
    WARD_KINDS,
    WEB_AGENTS,
)
from c360.domain.names_vi import (
    FAMILY_NAMES,
    GIVEN_NAMES_FEMALE,
    GIVEN_NAMES_MALE,
    MIDDLE_NAMES_FEMALE,
    MIDDLE_NAMES_MALE,
    strip_diacritics,
)
from c360.domain.phones_vi import CARRIER_SHARES, MOBILE_PREFIXES
from c360.domain.places import OLD_PROVINCES

KIND_SHARES: Final = (("member", 0.55), ("shopper", 0.25), ("visitor", 0.20))
FEMALE_SHARE: Final = 0.68
#: (lowest age, highest age, weight): a fashion and cosmetics shop skews young.
AGE_BRACKETS: Final = (
    (16, 19, 8.0),
    (20, 24, 20.0),
    (25, 29, 20.0),
    (30, 34, 16.0),
    (35, 39, 12.0),
    (40, 49, 14.0),
    (50, 59, 7.0),
    (60, 70, 3.0),
)
#: Big-city customers are over-represented: the shop's stores and most of its web traffic are there.
PROVINCE_BOOST: Final = {
    "ho-chi-minh": 3.0,
    "ha-noi": 3.0,
    "da-nang": 1.6,
    "hai-phong": 1.4,
    "can-tho": 1.4,
    "binh-duong": 1.5,
    "dong-nai": 1.3,
    "khanh-hoa": 1.2,
    "thua-thien-hue": 1.2,
}
EMAIL_DOMAINS: Final = (
    ("gmail.com", 72.0),
    ("yahoo.com", 6.0),
    ("yahoo.com.vn", 3.0),
    ("icloud.com", 7.0),
    ("hotmail.com", 5.0),
    ("outlook.com", 4.0),
    ("fpt.com.vn", 1.5),
    ("vnn.vn", 1.5),
)
HOUSEHOLD_START: Final = 0.12
HOUSEHOLD_SIZES: Final = ((2, 70.0), (3, 22.0), (4, 8.0))
EXISTING_SHARE: Final = {"member": 0.45, "shopper": 0.5, "visitor": 0.0}
DEAD_AT_START: Final = 0.15
HISTORY_YEARS: Final = 9  # the oldest accounts and CRM contacts date back this far before the period


class Device:
    """One browser or app install: one anonymousId."""

    __slots__ = (
        "announced",
        "anon_id",
        "busy_until",
        "carrier",
        "context",
        "identified",
        "ip_prefix",
        "os",
        "platform",
    )

    def __init__(self, anon_id: str, platform: str, os: str, context: dict[str, Any], ip_prefix: str) -> None:
        self.anon_id = anon_id
        self.platform = platform  # "web" or "app"
        self.os = os  # "ios" / "android" for apps, "mobile" / "desktop" for browsers
        self.context = context  # the per-device part of every message's context
        self.ip_prefix = ip_prefix
        self.identified = False  # the device carries the userId (logged in)
        self.announced = False  # it sent an identify in the period (a login, or its first logged-in visit)
        self.busy_until = 0  # end of its last session: one device runs one session at a time
        self.carrier = ""


class Person:
    """A simulated person: true attributes, behaviour parameters and running state."""

    __slots__ = (
        "alive",
        "app_devices",
        "app_share",
        "basket_scale",
        "birthday",
        "browse_rate",
        "crm_ms",
        "devices",
        "dropout_p",
        "dropped_ms",
        "email",
        "email_engagement",
        "family",
        "fav_category",
        "first_seen_ms",
        "gender",
        "given",
        "home_store",
        "household_id",
        "household_phone",
        "household_share",
        "idx",
        "kind",
        "locale",
        "middle",
        "old_province",
        "orders",
        "person_id",
        "phone",
        "purchase_rate",
        "refunded",
        "registered_ms",
        "revenue",
        "satisfaction",
        "second_phone",
        "store_share",
        "street",
        "subscribed",
        "unit_code",
        "user_id",
        "visitor_quit",
        "web_devices",
    )

    def __init__(self, idx: int) -> None:
        self.idx = idx
        self.person_id = f"P{idx + 1:07d}"
        self.kind = "member"
        self.family = self.middle = self.given = ""
        self.gender = "female"
        self.birthday = dt.date(2000, 1, 1)
        self.old_province = ""
        self.unit_code = ""
        self.street = ""
        self.email: str | None = None
        self.phone = ""
        self.second_phone: str | None = None
        self.household_id: str | None = None
        self.household_phone: str | None = None
        self.household_share = 0.0
        self.user_id: str | None = None
        self.devices: list[Device] = []
        self.web_devices: list[Device] = []
        self.app_devices: list[Device] = []
        self.first_seen_ms = 0
        self.registered_ms: int | None = None
        self.crm_ms: int | None = None
        self.purchase_rate = 0.0
        self.dropout_p = 0.0
        self.browse_rate = 0.0
        self.visitor_quit = 0.0
        self.store_share = 0.0
        self.app_share = 0.0
        self.home_store: Store | None = None
        self.basket_scale = 1.0
        self.fav_category = 0
        self.email_engagement = 0.0
        self.subscribed = False
        self.satisfaction = 0.7
        self.locale = "vi-VN"
        self.alive = True
        self.dropped_ms: int | None = None
        self.orders = 0
        self.revenue = 0
        self.refunded = 0

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.family, self.middle, self.given) if part)


_FAMILY = weighted(FAMILY_NAMES)
_GIVEN = {"male": ranked(GIVEN_NAMES_MALE, 0.8), "female": ranked(GIVEN_NAMES_FEMALE, 0.8)}
_MIDDLE_YOUNG = {
    "male": weighted([(name, young) for name, young, _ in MIDDLE_NAMES_MALE]),
    "female": weighted([(name, young) for name, young, _ in MIDDLE_NAMES_FEMALE]),
}
_MIDDLE_OLD = {
    "male": weighted([(name, old) for name, _, old in MIDDLE_NAMES_MALE]),
    "female": weighted([(name, old) for name, _, old in MIDDLE_NAMES_FEMALE]),
}
_AGE = weighted([((low, high), weight) for low, high, weight in AGE_BRACKETS])
_PROVINCE = weighted([(old.slug, old.population_k * PROVINCE_BOOST.get(old.slug, 1.0)) for old in OLD_PROVINCES])
_UNIT_OF = {old.slug: old.unit_code for old in OLD_PROVINCES}
_KIND = weighted(KIND_SHARES)
_CARRIER = weighted(list(CARRIER_SHARES.items()))
_DOMAIN = weighted(EMAIL_DOMAINS)
_HOUSEHOLD_SIZE = weighted(HOUSEHOLD_SIZES)
_WEB_AGENT = Weighted([(mobile, agent) for _, mobile, agent in WEB_AGENTS], [w for w, _, _ in WEB_AGENTS])
_APP_DEVICE = Weighted([device[1:] for device in APP_DEVICES], [device[0] for device in APP_DEVICES])
_CARRIERS_APP: Final = ("Viettel", "Viettel", "Vinaphone", "Mobifone", "Vietnamobile")
_WEB_DEVICE_COUNT = weighted([(1, 60.0), (2, 30.0), (3, 10.0)])


def _category_weights(female: bool) -> Weighted[int]:
    return Weighted(
        list(range(len(CATEGORIES))),
        [c.popularity * (c.female_affinity if female else 1.0 - c.female_affinity) + 0.05 for c in CATEGORIES],
    )


_FAV_CATEGORY = {"female": _category_weights(True), "male": _category_weights(False)}


class PeopleBuilder:
    """Draws the population. All randomness comes from one generator, so the population is a function of the seed."""

    def __init__(self, cfg: GeneratorConfig, rng: random.Random) -> None:
        self.cfg = cfg
        self.rng = rng
        self.start_ms = local_midnight_ms(cfg.start_date)
        self.end_ms = local_midnight_ms(cfg.end_date) + DAY_MS
        self.phones: set[str] = {store.hotline for stores in STORES_BY_UNIT.values() for store in stores}
        self.email_keys: set[str] = set()
        self.user_ids = self._user_id_pool(cfg.customers)
        self.households = 0

    def _user_id_pool(self, count: int) -> list[str]:
        # Account ids are sequential in the shop's database but unrelated to our person numbering.
        ids = [str(1_000_000 + 37 * i) for i in range(count)]
        self.rng.shuffle(ids)
        return ids

    def build(self) -> list[Person]:
        people: list[Person] = []
        count = self.cfg.customers
        while len(people) < count:
            head = self._person(len(people), None)
            people.append(head)
            if self.rng.random() < HOUSEHOLD_START and len(people) < count:
                size = min(_HOUSEHOLD_SIZE.pick(self.rng), count - len(people) + 1)
                if size >= 2:
                    self.households += 1
                    household_id = f"H{self.households:06d}"
                    head.household_id = household_id
                    head.household_phone = head.phone
                    for _ in range(size - 1):
                        people.append(self._person(len(people), head))
        return people

    # -- attributes ---------------------------------------------------------------------------------------------

    def _person(self, idx: int, head: Person | None) -> Person:
        rng = self.rng
        p = Person(idx)
        if head is None:
            p.gender = "female" if rng.random() < FEMALE_SHARE else "male"
            low, high = _AGE.pick(rng)
            age = rng.randint(low, high)
            p.family = _FAMILY.pick(rng)
            p.old_province = _PROVINCE.pick(rng)
            p.street = self._street()
        else:
            spouse = self._household_member(p, head)
            age = max(16, min(70, (self.cfg.end_date - head.birthday).days // 365 + rng.randint(-4, 4)))
            if not spouse:  # a sibling or a grown child
                age = max(16, age - rng.choice((0, 0, 20, 24, 27)))
        p.birthday = self.cfg.end_date - dt.timedelta(days=age * 365 + int(rng.random() * 365))
        older = p.birthday.year < 1985
        p.middle = (_MIDDLE_OLD if older else _MIDDLE_YOUNG)[p.gender].pick(rng)
        p.given = _GIVEN[p.gender].pick(rng)
        p.unit_code = _UNIT_OF[p.old_province]
        p.phone = self._new_phone()
        if rng.random() < 0.08:
            p.second_phone = self._new_phone()
        p.locale = "vi-VN" if rng.random() < 0.88 else "en-US"
        self._kind_and_behaviour(p)
        return p

    def _household_member(self, p: Person, head: Person) -> bool:
        """Share the head's home and phone; True for a spouse, False for a sibling or child."""
        rng = self.rng
        p.household_id = head.household_id
        p.household_phone = head.phone
        p.household_share = rng.choice((0.3, 0.6, 1.0))
        p.old_province = head.old_province
        p.street = head.street
        if rng.random() < 0.6:  # spouse: the other gender, keeps her or his own family name
            p.gender = "male" if head.gender == "female" else "female"
            p.family = _FAMILY.pick(rng)
            if p.family == head.family:
                p.family = _FAMILY.pick(rng)
            return True
        p.gender = "female" if rng.random() < FEMALE_SHARE else "male"
        p.family = head.family
        return False

    def _street(self) -> str:
        rng = self.rng
        number = rng.randint(1, 480)
        if rng.random() < 0.2:
            number_text = f"{number}/{rng.randint(1, 60)}"  # an alley (hẻm / ngõ) address
        else:
            number_text = str(number)
        ward = f"{rng.choice(WARD_KINDS)} {rng.randint(1, 18)}"
        return f"{number_text} {rng.choice(STREETS)}, {ward}"

    def _new_phone(self) -> str:
        rng = self.rng
        while True:
            prefix = rng.choice(MOBILE_PREFIXES[_CARRIER.pick(rng)])
            digits = 10 - len(prefix)
            number = f"{prefix}{int(rng.random() * 10**digits):0{digits}d}"
            if number not in self.phones:
                self.phones.add(number)
                return number

    def _email(self, p: Person) -> str:
        rng = self.rng
        given = strip_diacritics(p.given).lower()
        family = strip_diacritics(p.family).lower()
        middle = strip_diacritics(p.middle).lower()
        year = p.birthday.year
        choice = rng.randrange(6)
        if choice == 0:
            local = f"{given}{family}{year % 100:02d}"
        elif choice == 1:
            local = f"{family}{middle}{given}"
        elif choice == 2:
            local = f"{given}.{family}"
        elif choice == 3:
            local = f"{given}{family[0]}{middle[:1]}{year}"
        elif choice == 4:
            local = f"{family}{given}{rng.randint(1, 999)}"
        else:
            local = f"{given}_{family}{rng.randint(80, 99)}"
        domain = _DOMAIN.pick(rng)
        while True:
            key = (local.replace(".", "") if domain == "gmail.com" else local) + "@" + domain
            if key not in self.email_keys:
                self.email_keys.add(key)
                return f"{local}@{domain}"
            local = f"{local}{rng.randint(1, 99)}"

    def _kind_and_behaviour(self, p: Person) -> None:
        rng = self.rng
        kind = _KIND.pick(rng)
        stores = STORES_BY_UNIT.get(p.unit_code, ())
        if kind == "shopper" and not stores:
            kind = "member" if rng.random() < 0.6 else "visitor"
        p.kind = kind
        if stores and kind != "visitor":
            p.home_store = Weighted(stores, [s.weight for s in stores]).pick(rng)
        span = self.end_ms - self.start_ms
        # Nobody became a customer before turning 15, so young people have a shorter history.
        adult_ms = local_midnight_ms(p.birthday) + 15 * 365 * DAY_MS
        history = min(HISTORY_YEARS * 365 * DAY_MS, self.start_ms - adult_ms)
        if history > DAY_MS and rng.random() < EXISTING_SHARE[kind]:
            p.first_seen_ms = self.start_ms - 1 - int(rng.random() * history)
            if rng.random() < DEAD_AT_START:
                p.alive = False
                p.dropped_ms = p.first_seen_ms + int(rng.random() * (self.start_ms - p.first_seen_ms))
        else:
            p.first_seen_ms = self.start_ms + int(rng.random() * span)
        p.dropout_p = rng.betavariate(0.9, 12.0)
        p.basket_scale = rng.lognormvariate(0.0, 0.8)
        p.fav_category = _FAV_CATEGORY[p.gender].pick(rng)
        p.satisfaction = rng.betavariate(5.0, 2.0)
        p.email_engagement = rng.betavariate(1.3, 3.5)
        if kind == "visitor":
            p.browse_rate = rng.gammavariate(0.9, 0.045 / 0.9)
            p.visitor_quit = rng.uniform(0.04, 0.2)
            self._devices(p, web=1 if rng.random() < 0.85 else 2, app=1 if rng.random() < 0.08 else 0)
            return
        p.user_id = self.user_ids[p.idx] if kind == "member" else None
        mean_rate = 0.012 if kind == "member" else 0.010
        p.purchase_rate = min(0.25, rng.gammavariate(0.4, mean_rate / 0.4))
        # Frequent buyers also buy bigger baskets: this is what makes the top fifth carry most of the revenue.
        p.basket_scale *= (p.purchase_rate / mean_rate) ** 0.45
        if kind == "shopper":
            p.store_share = 1.0
        else:
            p.store_share = rng.betavariate(1.2, 2.5) if p.home_store is not None else 0.0
            has_app = rng.random() < 0.45
            p.app_share = rng.uniform(0.4, 0.95) if has_app else 0.0
            web_count = _WEB_DEVICE_COUNT.pick(rng)
            if has_app:
                web_count = min(web_count, 2)
            self._devices(p, web=web_count, app=1 if has_app else 0)
            online_rate = p.purchase_rate * (1.0 - p.store_share)
            p.browse_rate = online_rate * rng.uniform(2.5, 6.0) + rng.uniform(0.002, 0.01)
        if kind == "member" or rng.random() < 0.4:
            p.email = self._email(p)
            p.subscribed = rng.random() < 0.75
        if p.first_seen_ms < self.start_ms and kind == "member":
            p.registered_ms = p.first_seen_ms  # an existing account, logged in on some of its devices
            for device in p.devices:
                device.identified = rng.random() < 0.6

    def _devices(self, p: Person, *, web: int, app: int) -> None:
        rng = self.rng
        for _ in range(web):
            mobile, agent = _WEB_AGENT.pick(rng)
            context = {
                "library": ANALYTICS_JS,
                "userAgent": agent,
                "locale": p.locale,
                "timezone": "Asia/Ho_Chi_Minh",
            }
            device = Device(
                uuid_from_bits(rng.getrandbits(128)),
                "web",
                "mobile" if mobile else "desktop",
                context,
                rng.choice(IP_PREFIXES),
            )
            p.devices.append(device)
            p.web_devices.append(device)
        for _ in range(app):
            manufacturer, model, os_name, os_version, kind, agent = _APP_DEVICE.pick(rng)
            anon_id = uuid_from_bits(rng.getrandbits(128))
            if kind == "ios":
                anon_id = anon_id.upper()  # iOS SDKs send identifierForVendor-style upper-case ids
            carrier = rng.choice(_CARRIERS_APP)
            context = {
                "app": {"name": APP_NAME, "version": "5.3.1", "build": "531", "namespace": APP_NAMESPACE},
                "device": {
                    "id": uuid_from_bits(rng.getrandbits(128)),
                    "manufacturer": manufacturer,
                    "model": model,
                    "type": kind,
                },
                "os": {"name": os_name, "version": os_version},
                "library": APP_LIBRARY[kind],
                "network": {"carrier": carrier, "cellular": rng.random() < 0.5},
                "locale": p.locale,
                "timezone": "Asia/Ho_Chi_Minh",
                "userAgent": agent,
            }
            device = Device(anon_id, "app", kind, context, rng.choice(IP_PREFIXES))
            device.carrier = carrier
            p.devices.append(device)
            p.app_devices.append(device)
