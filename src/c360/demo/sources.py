"""The time-driven CSV sources written during the simulation: POS receipts, support tickets, surveys.

Each source draws from its own random generator so that the event stream does not depend on them. Tickets and
surveys happen some time after the order that caused them; a small heap holds them until the simulation clock has
passed them, so each file comes out in time order with ids that grow with time.
"""

from __future__ import annotations

import random
from heapq import heappop, heappush
from itertools import count
from typing import Any, Final

from c360.demo.draws import weighted
from c360.demo.files import CsvOut
from c360.demo.people import Person
from c360.demo.shop import Order, Shop
from c360.demo.shop_calendar import DAY_MS, HOUR_MS, Clock
from c360.demo.stores import STORES, STORES_BY_UNIT, Store
from c360.demo.texts import (
    REVIEWS_NEGATIVE,
    REVIEWS_NEUTRAL,
    REVIEWS_POSITIVE,
    SUPPORT_CHANNELS,
    SUPPORT_STATUSES_OLD,
    SUPPORT_STATUSES_RECENT,
    SUPPORT_TOPICS,
    WALK_IN_NAMES,
)
from c360.demo.variants import TEST_EMAILS, write_email, write_name, write_phone

POS_HEADER: Final = (
    "receipt_id",
    "store_code",
    "sold_at",
    "customer_name",
    "phone",
    "total",
    "payment_method",
    "items",
)
TICKET_HEADER: Final = ("ticket_id", "email", "phone", "created_at", "channel", "category", "subject", "status", "csat")
SURVEY_HEADER: Final = ("response_id", "email", "phone", "answered_at", "nps", "csat", "rating", "review")

#: Share of receipts where the cashier typed the store's own hotline because the customer gave no phone.
WALK_IN_RATE: Final = 0.10
#: A walk-in receipt still carries the customer's real name this often (else "Khách lẻ" or nothing).
WALK_IN_NAMED: Final = 0.2
AWAY_STORE_RATE: Final = 0.12  # bought at another store than the usual one
CRM_JOIN_RATE: Final = 0.6  # store customers who join the loyalty club (and so the CRM) at their first visit
TICKET_AFTER_ORDER: Final = 0.03
TICKET_AFTER_REFUND: Final = 0.35
TICKET_AFTER_STORE: Final = 0.008
SURVEY_AFTER_ORDER: Final = 0.06
SURVEY_AFTER_STORE: Final = 0.03
TEST_EMAIL_RATE: Final = 0.01

_TOTAL_STYLES = weighted(
    [("dots_symbol", 30.0), ("commas_d", 25.0), ("dots_vnd", 15.0), ("plain", 20.0), ("dots_d", 10.0)]
)
_CHANNEL = weighted(SUPPORT_CHANNELS)
_TOPIC = weighted([((category, templates), weight) for category, weight, templates in SUPPORT_TOPICS])
_STATUS_OLD = weighted(SUPPORT_STATUSES_OLD)
_STATUS_RECENT = weighted(SUPPORT_STATUSES_RECENT)


def write_vnd(amount: int, style: str) -> str:
    """VND as POS exports write it: `1.250.000 ₫`, `1,250,000đ`, `1.250.000 VND`, `1250000`, `1.250.000đ`."""
    commas = f"{amount:,}"
    if style == "plain":
        return str(amount)
    if style == "commas_d":
        return commas + "đ"
    dots = commas.replace(",", ".")
    if style == "dots_symbol":
        return dots + " ₫"
    if style == "dots_vnd":
        return dots + " VND"
    if style == "dots_d":
        return dots + "đ"
    raise ValueError(f"unknown amount style {style!r}")


def parse_vnd(text: str) -> int:
    """Inverse of `write_vnd` (VND has no minor unit, so every separator is a thousands separator)."""
    return int("".join(ch for ch in text if ch.isdigit()))


class SourceWriter:
    """The simulation's side sink: writes pos_sales.csv, support_tickets.csv, surveys.csv and their truth rows."""

    def __init__(
        self,
        seed: int,
        shop: Shop,
        clock: Clock,
        end_ms: int,
        sales: list[bool],
        start_ms: int,
        pos: CsvOut,
        tickets: CsvOut,
        surveys: CsvOut,
        records: CsvOut,
    ) -> None:
        self.pos_rng = random.Random(f"c360.demo/{seed}/pos")
        self.ticket_rng = random.Random(f"c360.demo/{seed}/support")
        self.survey_rng = random.Random(f"c360.demo/{seed}/survey")
        self.shop = shop
        self.clock = clock
        self.end_ms = end_ms
        self.start_ms = start_ms
        self.sale_days = sales
        self.pos = pos
        self.tickets = tickets
        self.surveys = surveys
        self.records = records
        self._receipt_numbers: dict[str, int] = {store.code: 0 for store in STORES}
        self._crm_decided: set[int] = set()
        self._pending: list[tuple[int, int, str, Person, Any]] = []
        self._seq = count()
        self._ticket_ids = count(1)
        self._survey_ids = count(1)

    # -- SideSink -----------------------------------------------------------------------------------------------

    def store_purchase(self, person: Person, t_ms: int) -> None:
        rng = self.pos_rng
        store = self._store(person)
        number = self._receipt_numbers[store.code] + 1
        self._receipt_numbers[store.code] = number
        receipt_id = f"{store.code}-HD{number:06d}"
        order = Order(receipt_id, t_ms, store.code, self.shop.basket(rng, person))
        day = (t_ms - self.start_ms) // DAY_MS
        self.shop.price(rng, order, sale_day=0 <= day < len(self.sale_days) and self.sale_days[day], online=False)
        if rng.random() < WALK_IN_RATE:
            phone = write_phone(store.hotline, rng, "pos", 0.0)
            name = write_name(person, rng, "pos") if rng.random() < WALK_IN_NAMED else rng.choice(WALK_IN_NAMES)
        else:
            phone = write_phone(self._phone_given(person, rng), rng, "pos")
            name = write_name(person, rng, "pos")
        items = ";".join(f"{product.sku}:{quantity}" for product, quantity in order.lines)
        self.pos.row(
            (
                receipt_id,
                store.code,
                self.clock.local(t_ms),
                name,
                phone,
                write_vnd(order.total, _TOTAL_STYLES.pick(rng)),
                order.payment,
                items,
            )
        )
        self.records.row(("pos", receipt_id, person.person_id))
        person.orders += 1
        person.revenue += order.total
        if person.idx not in self._crm_decided:
            self._crm_decided.add(person.idx)
            if person.crm_ms is None and rng.random() < CRM_JOIN_RATE:
                person.crm_ms = t_ms
        if rng.random() < TICKET_AFTER_STORE:
            self._later_ticket(person, t_ms, order, refund=False)
        if rng.random() < SURVEY_AFTER_STORE:
            self._later_survey(person, t_ms)

    def online_order(self, person: Person, order: Order) -> None:
        if self.ticket_rng.random() < TICKET_AFTER_ORDER:
            self._later_ticket(person, order.t_ms, order, refund=False)
        if self.survey_rng.random() < SURVEY_AFTER_ORDER:
            self._later_survey(person, order.t_ms)

    def refund(self, person: Person, t_ms: int, order: Order, amount: int) -> None:
        if self.ticket_rng.random() < TICKET_AFTER_REFUND:
            self._later_ticket(person, t_ms, order, refund=True)

    def advance(self, t_ms: int) -> None:
        pending = self._pending
        while pending and pending[0][0] < t_ms:
            at, _, kind, person, payload = heappop(pending)
            if kind == "ticket":
                self._write_ticket(person, at, payload)
            else:
                self._write_survey(person, at)

    def close(self) -> None:
        self.advance(self.end_ms + 1)

    # -- POS ----------------------------------------------------------------------------------------------------

    def _store(self, person: Person) -> Store:
        rng = self.pos_rng
        home = person.home_store
        if home is None or rng.random() < AWAY_STORE_RATE:
            nearby = STORES_BY_UNIT.get(person.unit_code) or STORES_BY_UNIT["ho-chi-minh"]
            return nearby[rng.randrange(len(nearby))]
        return home

    def _phone_given(self, person: Person, rng: random.Random) -> str:
        """Which number the customer gives: a shared household phone, a second SIM, or their own."""
        if person.household_phone is not None and rng.random() < person.household_share:
            return person.household_phone
        if person.second_phone is not None and rng.random() < 0.3:
            return person.second_phone
        return person.phone

    # -- tickets and surveys ------------------------------------------------------------------------------------

    def _later_ticket(self, person: Person, t_ms: int, order: Order, *, refund: bool) -> None:
        rng = self.ticket_rng
        at = t_ms + rng.randrange(HOUR_MS, 5 * DAY_MS)
        if at >= self.end_ms:
            return
        heappush(self._pending, (at, next(self._seq), "ticket", person, (order, refund)))

    def _later_survey(self, person: Person, t_ms: int) -> None:
        at = t_ms + self.survey_rng.randrange(DAY_MS, 10 * DAY_MS)
        if at < self.end_ms:
            heappush(self._pending, (at, next(self._seq), "survey", person, None))

    def _contact(self, person: Person, rng: random.Random, source: str) -> tuple[str, str]:
        """(email, phone) as a ticket or survey records them: at least one of the two, sometimes a test email."""
        email = ""
        if person.email is not None and rng.random() < 0.85:
            email = write_email(person.email, rng, 0.08, 0.03)
        if rng.random() < TEST_EMAIL_RATE:
            email = rng.choice(TEST_EMAILS)
        phone = ""
        if not email or rng.random() < 0.6:
            phone = write_phone(self._phone_given(person, rng), rng, source)
        return email, phone

    def _write_ticket(self, person: Person, at: int, payload: tuple[Order, bool]) -> None:
        rng = self.ticket_rng
        order, refund = payload
        if refund:
            category, templates = "return", SUPPORT_TOPICS[1][2]
        else:
            category, templates = _TOPIC.pick(rng)
        subject = rng.choice(templates).format(order=order.order_id, product=order.lines[0][0].name)
        recent = self.end_ms - at < 7 * DAY_MS
        status = (_STATUS_RECENT if recent else _STATUS_OLD).pick(rng)
        csat = ""
        if status in ("resolved", "closed") and rng.random() < 0.55:
            mood = person.satisfaction - (0.25 if category in ("return", "delivery") else 0.0)
            csat = str(max(1, min(5, round(1 + 4 * mood + rng.gauss(0.0, 0.6)))))
        email, phone = self._contact(person, rng, "support")
        ticket_id = f"TK{next(self._ticket_ids):07d}"
        self.tickets.row(
            (
                ticket_id,
                email,
                phone,
                self.clock.iso_utc_seconds(at),
                _CHANNEL.pick(rng),
                category,
                subject,
                status,
                csat,
            )
        )
        self.records.row(("support", ticket_id, person.person_id))

    def _write_survey(self, person: Person, at: int) -> None:
        rng = self.survey_rng
        nps = max(0, min(10, round(10 * person.satisfaction + rng.gauss(0.0, 1.3))))
        csat = max(1, min(5, round(1 + nps * 0.4 + rng.gauss(0.0, 0.45))))
        rating = max(1, min(5, round(1 + nps * 0.4 + rng.gauss(0.0, 0.55))))
        review = ""
        if rng.random() < 0.7:
            pool = REVIEWS_POSITIVE if rating >= 4 else REVIEWS_NEUTRAL if rating == 3 else REVIEWS_NEGATIVE
            review = rng.choice(pool)
        email, phone = self._contact(person, rng, "survey")
        response_id = f"SR{next(self._survey_ids):07d}"
        self.surveys.row((response_id, email, phone, self.clock.iso_utc_seconds(at), nps, csat, rating, review))
        self.records.row(("survey", response_id, person.person_id))
