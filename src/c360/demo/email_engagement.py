"""email_engagement.csv: what the email platform reports for the shop's campaigns.

A weekly newsletter (Thursdays) goes to a rotating part of the list; sale campaigns go to most of it. People open
according to their engagement (much less once they stopped buying), click some of what they open, and now and
then unsubscribe, after which they get nothing more.
"""

from __future__ import annotations

import bisect
import datetime as dt
import random
from dataclasses import dataclass
from heapq import heappop, heappush
from itertools import count
from typing import Final

from c360.demo.campaigns import sale_of
from c360.demo.config import GeneratorConfig
from c360.demo.files import CsvOut
from c360.demo.people import Person
from c360.demo.shop_calendar import DAY_MS, HOUR_MS, Clock, local_midnight_ms
from c360.demo.texts import SHOP_URL
from c360.demo.variants import write_email

EMAIL_HEADER: Final = ("event_id", "email", "event", "campaign_id", "occurred_at", "link_url")
NEWSLETTER_REACH: Final = 0.25
SALE_REACH: Final = 0.6
CLICK_GIVEN_OPEN: Final = 0.22
UNSUBSCRIBE_RATE: Final = 0.003
LAPSED_OPEN_FACTOR: Final = 0.3  # people who stopped buying still open a little


@dataclass(frozen=True, slots=True)
class Campaign:
    campaign_id: str
    sent_ms: int
    reach: float
    landing_path: str


def campaigns(cfg: GeneratorConfig) -> list[Campaign]:
    """The campaigns sent during the period, in send order."""
    found: list[Campaign] = []
    seen_sales: set[str] = set()
    for offset in range(cfg.days):
        day = cfg.start_date + dt.timedelta(days=offset)
        midnight = local_midnight_ms(day)
        sale = sale_of(day)
        if sale is not None and sale[0] not in seen_sales:
            seen_sales.add(sale[0])
            found.append(
                Campaign(f"cmp-{day:%Y%m%d}-{sale[0]}", midnight + 8 * HOUR_MS, SALE_REACH, f"/khuyen-mai/{sale[0]}")
            )
        if day.weekday() == 3:
            found.append(
                Campaign(f"cmp-{day:%Y%m%d}-ban-tin", midnight + 10 * HOUR_MS, NEWSLETTER_REACH, "/hang-moi-ve")
            )
    return found


def write_email_engagement(
    people: list[Person], cfg: GeneratorConfig, clock: Clock, end_ms: int, out: CsvOut, records: CsvOut
) -> None:
    rng = random.Random(f"c360.demo/{cfg.seed}/email")
    random_ = rng.random
    # Only addresses the shop holds can be mailed: online accounts and loyalty members who gave one.
    listed: list[tuple[int, int, Person]] = []
    for person in people:
        if person.email is None or not person.subscribed:
            continue
        known = person.registered_ms
        if known is None:
            known = person.crm_ms
        if known is not None:
            listed.append((known, person.idx, person))
    listed.sort(key=lambda item: item[:2])
    known_times = [item[0] for item in listed]
    list_address = {
        person.idx: (write_email(person.email, rng, 1.0, 0.0) if random_() < 0.1 else person.email)
        for _, _, person in listed
        if person.email is not None
    }
    unsubscribed: set[int] = set()
    pending: list[tuple[int, int, str, str, str, str, str]] = []
    seq = count()
    event_ids = count(1)

    def flush(before: int) -> None:
        while pending and pending[0][0] < before:
            at, _, email, event, campaign_id, link, person_id = heappop(pending)
            event_id = f"EM{next(event_ids):09d}"
            out.row((event_id, email, event, campaign_id, clock.iso_utc_seconds(at), link))
            records.row(("email", event_id, person_id))

    for campaign in campaigns(cfg):
        sent = campaign.sent_ms
        flush(sent)
        link = (
            f"{SHOP_URL}{campaign.landing_path}?utm_source=email&utm_medium=email&utm_campaign={campaign.campaign_id}"
        )
        for _, idx, person in listed[: bisect.bisect_right(known_times, sent)]:
            if idx in unsubscribed or random_() >= campaign.reach:
                continue
            email = list_address[idx]
            cid = campaign.campaign_id
            delivered = sent + rng.randrange(0, 30 * 60_000)
            heappush(pending, (delivered, next(seq), email, "Email Delivered", cid, "", person.person_id))
            engagement = person.email_engagement
            if person.dropped_ms is not None and person.dropped_ms < sent:
                engagement *= LAPSED_OPEN_FACTOR
            if random_() < engagement:
                opened = delivered + int(rng.lognormvariate(9.2, 1.4) * 1000)  # median about 2.7 hours
                if opened < end_ms:
                    heappush(pending, (opened, next(seq), email, "Email Opened", cid, "", person.person_id))
                    if random_() < CLICK_GIVEN_OPEN:
                        clicked = opened + rng.randrange(3_000, 300_000)
                        if clicked < end_ms:
                            heappush(
                                pending, (clicked, next(seq), email, "Email Link Clicked", cid, link, person.person_id)
                            )
            if random_() < UNSUBSCRIBE_RATE * (2.0 - engagement * 2.0):
                unsubscribed.add(idx)
                left = delivered + rng.randrange(60_000, 3 * DAY_MS)
                if left < end_ms:
                    heappush(pending, (left, next(seq), email, "Email Unsubscribed", cid, "", person.person_id))
    flush(end_ms + 1)
