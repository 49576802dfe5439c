"""generate_to_dir and iter_events: the public entry points that run the simulation."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

import orjson

from c360.demo.config import GeneratorConfig
from c360.demo.crm import CRM_HEADER, crm_created_ms, write_crm
from c360.demo.email_engagement import EMAIL_HEADER, write_email_engagement
from c360.demo.files import CsvOut, LinesOut
from c360.demo.people import Person
from c360.demo.simulation import Simulation
from c360.demo.sources import POS_HEADER, SURVEY_HEADER, TICKET_HEADER, SourceWriter

Progress = Callable[[int, int], None]

FORMAT_VERSION: Final = 1
CATALOG_HEADER: Final = ("sku", "name", "category", "brand", "price_vnd")
RECORDS_HEADER: Final = ("source", "record_id", "person_id")
PEOPLE_HEADER: Final = (
    "person_id",
    "kind",
    "full_name",
    "family_name",
    "middle_name",
    "given_name",
    "gender",
    "birth_date",
    "old_province",
    "province_code",
    "street",
    "email",
    "phone",
    "second_phone",
    "household_id",
    "household_phone",
    "user_id",
    "anonymous_ids",
    "home_store",
    "first_seen_at",
    "registered_at",
    "crm_created_at",
    "dropped_out_at",
    "purchase_rate",
    "dropout_p",
    "orders",
    "revenue_vnd",
    "refunded_vnd",
)
#: Steps after the simulated days, for progress reporting: CRM, email engagement, truth.
_TAIL_UNITS: Final = 3


def iter_events(cfg: GeneratorConfig) -> Iterator[dict[str, Any]]:
    """Segment messages in (timestamp, messageId) order, streamed with memory bounded by the population.

    Nested objects (a device's `library`, `app`, `device`) may be shared between messages: copy before mutating.
    """
    yield from Simulation(cfg).events()


def generate_to_dir(cfg: GeneratorConfig, out_dir: str | Path, progress: Progress | None = None) -> dict[str, int]:
    """Write the demo dataset into `out_dir` (created if needed) and return the number of rows per file."""
    out = Path(out_dir)
    (out / "truth").mkdir(parents=True, exist_ok=True)
    total_units = cfg.days + _TAIL_UNITS

    def on_day(done: int) -> None:
        if progress is not None:
            progress(done, total_units)

    sim = Simulation(cfg, on_day=on_day)
    files: dict[str, CsvOut | LinesOut] = {}
    records = CsvOut(out / "truth" / "records.csv", RECORDS_HEADER)
    try:
        events = files["events.jsonl"] = LinesOut(out / "events.jsonl")
        pos = files["pos_sales.csv"] = CsvOut(out / "pos_sales.csv", POS_HEADER)
        tickets = files["support_tickets.csv"] = CsvOut(out / "support_tickets.csv", TICKET_HEADER)
        surveys = files["surveys.csv"] = CsvOut(out / "surveys.csv", SURVEY_HEADER)
        side = SourceWriter(
            cfg.seed,
            sim.shop,
            sim.clock,
            sim.end_ms,
            [s is not None for s in sim.sales],
            sim.start_ms,
            pos,
            tickets,
            surveys,
            records,
        )
        sim.side = side
        user_sources, anonymous_ids = _write_events(sim, events)
        side.close()
        for name in ("events.jsonl", "pos_sales.csv", "support_tickets.csv", "surveys.csv"):
            files[name].close()

        crm = files["crm_contacts.csv"] = CsvOut(out / "crm_contacts.csv", CRM_HEADER)
        write_crm(sim.people, cfg.seed, sim.clock, sim.end_ms, crm, records)
        crm.close()
        on_day(cfg.days + 1)

        email = files["email_engagement.csv"] = CsvOut(out / "email_engagement.csv", EMAIL_HEADER)
        write_email_engagement(sim.people, cfg, sim.clock, sim.end_ms, email, records)
        email.close()
        on_day(cfg.days + 2)

        catalog = files["catalog.csv"] = CsvOut(out / "catalog.csv", CATALOG_HEADER)
        for product in sim.shop.catalog:
            catalog.row((product.sku, product.name, product.category, product.brand, product.price))
        catalog.close()

        for person in sim.people:
            for device in person.devices:
                if device.anon_id in anonymous_ids:
                    records.row((device.platform, device.anon_id, person.person_id))
            source = user_sources.get(person.user_id) if person.user_id is not None else None
            if source is not None:
                records.row((source, person.user_id, person.person_id))
        records.close()
        files["truth/records.csv"] = records
        people = files["truth/people.csv"] = CsvOut(out / "truth" / "people.csv", PEOPLE_HEADER)
        for person in sim.people:
            people.row(_person_row(person, sim.clock.iso_utc_seconds, anonymous_ids))
        people.close()
        on_day(cfg.days + _TAIL_UNITS)
    finally:
        records.close()
        for file in files.values():
            file.close()

    counts = {name: file.rows for name, file in sorted(files.items())}
    manifest = {
        "generator": "c360.demo",
        "format_version": FORMAT_VERSION,
        "config": cfg.as_dict(),
        "files": {name: {"rows": file.rows, "sha256": file.sha256} for name, file in sorted(files.items())},
    }
    (out / "manifest.json").write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n")
    return counts


def _write_events(sim: Simulation, events: LinesOut) -> tuple[dict[str, str], set[str]]:
    """Write the stream; note which ids it used and, for each userId, where it was first sent from."""
    dumps = orjson.dumps
    line = events.line
    user_sources: dict[str, str] = {}
    anonymous_ids: set[str] = set()
    seen_anonymous = anonymous_ids.add
    for message in sim.events():
        line(dumps(message))
        user_id = message["userId"]
        if user_id is not None and user_id not in user_sources:
            user_sources[user_id] = "app" if "app" in message["context"] else "web"
        anonymous_id = message["anonymousId"]
        if anonymous_id is not None:
            seen_anonymous(anonymous_id)
    return user_sources, anonymous_ids


def _person_row(p: Person, iso: Callable[[int], str], anonymous_ids: set[str]) -> tuple[Any, ...]:
    def when(ms: int | None) -> str:
        return "" if ms is None else iso(ms)

    return (
        p.person_id,
        p.kind,
        p.full_name,
        p.family,
        p.middle,
        p.given,
        p.gender,
        p.birthday.isoformat(),
        p.old_province,
        p.unit_code,
        p.street,
        p.email or "",
        "+84" + p.phone[1:],
        "" if p.second_phone is None else "+84" + p.second_phone[1:],
        p.household_id or "",
        "" if p.household_phone is None else "+84" + p.household_phone[1:],
        p.user_id if p.registered_ms is not None else "",
        ";".join(d.anon_id for d in p.devices if d.anon_id in anonymous_ids),
        "" if p.home_store is None else p.home_store.code,
        iso(p.first_seen_ms),
        when(p.registered_ms),
        when(crm_created_ms(p)),
        when(p.dropped_ms),
        f"{p.purchase_rate:.6f}",
        f"{p.dropout_p:.4f}",
        p.orders,
        p.revenue,
        p.refunded,
    )
