"""A small, realistic identity graph for the profile read-side tests, written straight into the store's tables.

Until the resolver writes these tables itself, the tests build what it would: real events go through the ingest
path into the log and part of them into the lake; the identity rows that describe the same people are inserted
with SQLAlchemy.

The people:

- **Nguyễn Văn An** (``prof_an``): user id ``u-an``, a Gmail address, ``+84912345678``, two web devices and the CRM
  contact ``crm:C0000001``. Two older profiles were merged into it, one through the other
  (``prof_an_older`` -> ``prof_an_old`` -> ``prof_an``); the device ``anon-an-2`` still points at ``prof_an_old``.
- **Trần Thị Bích** (``prof_bich``): ``u-bich``, her email and phone, CRM contact ``crm:C0000002``.
- **Nguyễn Văn Anh** (``prof_anh``) and **Nguyễn Văn Ánh** (``prof_anh2``): the same folded name, so search
  ranks them by records.
- ``+84909123123``, the shop's hotline typed for walk-ins, is **held** by the fan-out guard: An's and Bích's
  records carry it (edges kept with ``live`` false say so), and an open review item asks about it.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert

from c360.services.compaction import compact
from c360.services.ingest import append_messages
from c360.services.profiles import search_text
from c360.store import Store
from c360.store.schema import (
    identity_edges,
    identity_merges,
    identity_nodes,
    identity_profiles,
    identity_review,
)
from c360.workspace import Workspace

T0 = dt.datetime(2026, 1, 10, 9, 0, tzinfo=dt.UTC)
RECEIVED = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
HELD_PHONE = "+84909123123"
HELD_REASON = "fan-out guard: on 6 records with clearly different names"

AN, AN_OLD, AN_OLDER, BICH, ANH, ANH2 = "prof_an", "prof_an_old", "prof_an_older", "prof_bich", "prof_anh", "prof_anh2"


@dataclass
class Person:
    profile_id: str
    name: str
    email: str | None
    phone: str | None
    #: (id_type, id_value, profile_id the node points at, source, records)
    nodes: list[tuple[str, str, str, str, int]] = field(default_factory=list)


PEOPLE = [
    Person(
        AN,
        "Nguyễn Văn An",
        "annguyen@gmail.com",
        "+84912345678",
        [
            ("user_id", "u-an", AN, "web", 14),
            ("email", "annguyen@gmail.com", AN, "crm", 3),
            ("phone", "+84912345678", AN, "crm", 2),
            ("anonymous_id", "anon-an-1", AN, "web", 9),
            ("anonymous_id", "anon-an-2", AN_OLD, "web", 6),
            ("external_id", "crm:C0000001", AN, "crm", 1),
            ("loyalty_card", "VIP-0001", AN, "pos", 1),
        ],
    ),
    Person(
        BICH,
        "Trần Thị Bích",
        "bich.tran@example.vn",
        "+84987654321",
        [
            ("user_id", "u-bich", BICH, "web", 4),
            ("email", "bich.tran@example.vn", BICH, "crm", 1),
            ("phone", "+84987654321", BICH, "crm", 1),
            ("external_id", "crm:C0000002", BICH, "crm", 1),
        ],
    ),
    Person(
        ANH,
        "Nguyễn Văn Anh",
        "anh.nv@example.vn",
        "+84901111222",
        [("user_id", "u-anh", ANH, "web", 2), ("email", "anh.nv@example.vn", ANH, "crm", 1)],
    ),
    Person(
        ANH2,
        "Nguyễn Văn Ánh",
        None,
        "+84902222333",
        [("user_id", "u-anh2", ANH2, "web", 7), ("phone", "+84902222333", ANH2, "pos", 3)],
    ),
]


def _at(minutes: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def write_identity_rows(store: Store) -> None:
    """The identity tables as the resolver would leave them for ``PEOPLE``."""
    nodes: list[dict[str, Any]] = []
    profiles: list[dict[str, Any]] = []
    for index, person in enumerate(PEOPLE):
        for id_type, id_value, profile_id, source, records in person.nodes:
            nodes.append(
                {
                    "id_type": id_type,
                    "id_value": id_value,
                    "profile_id": profile_id,
                    "source": source,
                    "first_seen_at": _at(index),
                    "first_message_id": f"first-{id_type}-{id_value}",
                    "records": records,
                    "held_reason": None,
                }
            )
        traits = {"name": person.name, "email": person.email, "phone": person.phone}
        if person.profile_id == AN:
            traits |= {"birthday": "1990-05-17", "province": "HCM"}
        profiles.append(
            {
                "profile_id": person.profile_id,
                "first_seen_at": _at(index),
                "first_message_id": f"first-{person.profile_id}",
                "updated_at": RECEIVED,
                "name": person.name,
                "email": person.email,
                "phone": person.phone,
                "traits": json.dumps(traits, ensure_ascii=False),
                "search_text": search_text(person.name, [person.email or ""], [person.phone or ""]),
            }
        )
    nodes.append(
        {
            "id_type": "phone",
            "id_value": HELD_PHONE,
            "profile_id": None,
            "source": "pos",
            "first_seen_at": _at(30),
            "first_message_id": "an-pos-hotline",
            "records": 6,
            "held_reason": HELD_REASON,
        }
    )
    edge = {"kind": "deterministic", "live": True, "match_probability": None, "evidence": None}
    edges = [
        {
            **edge,
            "a_type": "user_id",
            "a_value": "u-an",
            "b_type": "email",
            "b_value": "annguyen@gmail.com",
            "profile_id": AN,
            "source": "web",
            "message_id": "an-identify",
            "seen_at": _at(1),
        },
        {
            **edge,
            "a_type": "user_id",
            "a_value": "u-an",
            "b_type": "anonymous_id",
            "b_value": "anon-an-1",
            "profile_id": AN,
            "source": "web",
            "message_id": "an-web-0",
            "seen_at": _at(2),
        },
        {
            "a_type": "email",
            "a_value": "annguyen@gmail.com",
            "b_type": "external_id",
            "b_value": "crm:C0000001",
            "profile_id": AN,
            "kind": "probabilistic",
            "live": True,
            "source": "crm",
            "message_id": None,
            "seen_at": _at(3),
            "match_probability": 0.991,
            "evidence": json.dumps({"name": "exact without diacritics", "birth_date": "exact"}),
        },
        {
            **edge,
            "a_type": "user_id",
            "a_value": "u-bich",
            "b_type": "email",
            "b_value": "bich.tran@example.vn",
            "profile_id": BICH,
            "source": "web",
            "message_id": "bich-identify",
            "seen_at": _at(4),
        },
        # The held phone came with An's user id and, on another record, Bích's: kept to explain, joining nothing.
        {
            **edge,
            "live": False,
            "a_type": "user_id",
            "a_value": "u-an",
            "b_type": "phone",
            "b_value": HELD_PHONE,
            "profile_id": AN,
            "source": "pos",
            "message_id": "an-pos-hotline",
            "seen_at": _at(30),
        },
        {
            **edge,
            "live": False,
            "a_type": "phone",
            "a_value": HELD_PHONE,
            "b_type": "external_id",
            "b_value": "crm:C0000002",
            "profile_id": BICH,
            "source": "crm",
            "message_id": "bich-crm-hotline",
            "seen_at": _at(31),
        },
    ]
    merges = [
        {
            "merged_at": _at(100),
            "survivor_id": AN_OLD,
            "merged_id": AN_OLDER,
            "run": "batch",
            "evidence": json.dumps({"shared": ["anonymous_id:anon-an-2"]}),
        },
        {
            "merged_at": _at(200),
            "survivor_id": AN,
            "merged_id": AN_OLD,
            "run": "incremental",
            "evidence": json.dumps({"shared": ["email:annguyen@gmail.com"], "message_id": "an-login"}),
        },
    ]
    review = [
        {
            "kind": "held_value",
            "key": f"held_value:phone:{HELD_PHONE}",
            "id_type": "phone",
            "id_value": HELD_PHONE,
            "left_profile_id": None,
            "right_profile_id": None,
            "match_probability": None,
            "reason": HELD_REASON,
            "evidence": json.dumps({"names": ["Nguyễn Văn An", "Trần Thị Bích", "Khách lẻ"]}, ensure_ascii=False),
            "status": "open",
            "created_at": _at(300),
            "decided_at": None,
        },
        {
            "kind": "match",
            "key": f"match|{ANH}|{ANH2}",
            "id_type": None,
            "id_value": None,
            "left_profile_id": ANH,
            "right_profile_id": ANH2,
            "match_probability": 0.87,
            "reason": "same name, different phones",
            "evidence": None,
            "status": "rejected",
            "created_at": _at(300),
            "decided_at": _at(400),
        },
    ]
    with store.write() as conn:
        conn.execute(insert(identity_profiles), profiles)
        conn.execute(insert(identity_nodes), nodes)
        conn.execute(insert(identity_edges), edges)
        conn.execute(insert(identity_merges), merges)
        conn.execute(insert(identity_review), review)


# --- events ------------------------------------------------------------------------------------------------------
def _message(kind: str, minute: int, message_id: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "messageId": message_id, "timestamp": _at(minute).isoformat(), **fields}


def lake_messages() -> dict[str, list[dict[str, Any]]]:
    """Messages compacted into the lake, by source."""
    web = []
    for i in range(12):
        web.append(
            _message(
                "track",
                10 * i,
                f"an-web-{i}",
                userId="u-an" if i % 2 else None,
                anonymousId="anon-an-1",
                event="Product Viewed",
                properties={"product_id": f"SKU-{i}", "name": f"Áo thun {i}"},
            )
        )
    web.append(_message("page", 5, "an-page-old-device", anonymousId="anon-an-2", name="Trang chủ"))
    web.append(_message("track", 7, "bich-web-0", userId="u-bich", event="Product Viewed", properties={}))
    web.append(
        _message(
            "track",
            55,
            "an-order-1",
            userId="u-an",
            event="Order Completed",
            properties={"order_id": "A1", "total": 1250000, "currency": "VND"},
        )
    )
    # Two events at the same instant: the seq decides their order.
    web.append(_message("page", 60, "an-tie-1", userId="u-an", name="Giỏ hàng"))
    web.append(_message("page", 60, "an-tie-2", userId="u-an", name="Thanh toán"))
    crm = [
        _message(
            "identify",
            3,
            "an-crm",
            anonymousId="crm:C0000001",
            traits={"name": "Nguyễn Văn An", "email": "An.Nguyen@gmail.com", "phone": "0912 345 678"},
        ),
        _message("identify", 4, "bich-crm", anonymousId="crm:C0000002", traits={"name": "Trần Thị Bích"}),
    ]
    return {"web": web, "crm": crm}


def log_messages() -> dict[str, list[dict[str, Any]]]:
    """Messages left in the log (not compacted); their times interleave with the lake's."""
    web = [
        _message("track", 10 * i + 5, f"an-log-{i}", userId="u-an", event="Product Added", properties={"sku": i})
        for i in range(8)
    ]
    web.append(_message("page", 60, "an-tie-3", anonymousId="anon-an-1", name="Xác nhận"))
    web.append(_message("track", 33, "bich-log-0", userId="u-bich", event="Product Added", properties={}))
    web.append(_message("identify", 90, "an-later", userId="u-an", traits={"email": "annguyen@gmail.com"}))
    # The held phone alone on a walk-in's record: not An's event, though his records carry the phone.
    web.append(_message("identify", 95, "walk-in", anonymousId="pos:R77", traits={"phone": "0909 123 123"}))
    return {"web": web}


def an_message_ids() -> set[str]:
    """Every messageId of An's events, merged profiles included."""
    everything = [m for batch in (lake_messages(), log_messages()) for ms in batch.values() for m in ms]
    ids = {"u-an"}, {"anon-an-1", "anon-an-2", "crm:C0000001"}
    return {m["messageId"] for m in everything if m.get("userId") in ids[0] or m.get("anonymousId") in ids[1]}


def _append(ws: Workspace, batches: dict[str, list[dict[str, Any]]]) -> None:
    for source, messages in batches.items():
        result = append_messages(ws.log, messages, source=source, received_at=lambda: RECEIVED)
        assert result.rejected == 0, result.errors


def populate(ws: Workspace) -> None:
    """Events into the lake and the log, and the identity rows, in ``ws``."""
    _append(ws, lake_messages())
    compact(ws.log, ws.lake)
    ws.log.prune(ws.lake.watermark())
    _append(ws, log_messages())
    write_identity_rows(ws.store)


def node_profile(store: Store, id_type: str, id_value: str) -> str | None:
    """The profile the identity map gives identifier ``id_type:id_value`` (normalised), None when none does."""
    from sqlalchemy import select

    from c360.store.schema import identity_nodes

    with store.read() as conn:
        found: str | None = conn.execute(
            select(identity_nodes.c.profile_id).where(
                identity_nodes.c.id_type == id_type, identity_nodes.c.id_value == id_value
            )
        ).scalar_one_or_none()
    return found
