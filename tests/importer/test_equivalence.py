"""The fast path builds each message's JSON a column at a time; the reference builds a dict per row and passes it
through ``services.ingest.to_record`` like every other message. Both must give the very same log records: the
same messageId, timestamp and body, byte for byte."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from c360.importer import import_file, load_mapping, parse_mapping
from c360.importer.readers import RawBatch
from c360.importer.run import Job
from c360.workspace import Workspace
from tests.importer.conftest import EXAMPLES, EXPORTED_AT

RECEIVED = dt.datetime(2026, 11, 2, 3, 4, 5, 678901, tzinfo=dt.UTC)

TRICKY = [
    "",
    "   ",
    "Nguyễn Thị Ánh",
    "Nguye\u0302\u0303n",  # NFD
    'say "hi"',
    "back\\slash",
    "two\nlines",
    "tab\there",
    "bell\x07",
    "emoji 🎉",
    "\u2028 line separator",
    "</script>",
    "0912345678",
    "1.250.000 ₫",
    "$12.50",
    "12,5 EUR",
    "x",
]
text = st.one_of(
    st.sampled_from(TRICKY), st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
)

MAPPINGS: dict[str, dict[str, Any]] = {
    "customers": {
        "source": "crm",
        "kind": "customers",
        "record_id": "a",
        "fields": {
            "first_name": "b",
            "last_name": "c",
            "full_name": {"columns": ["c", "b"], "join": " "},
            "gender": "d",
            "email": "e",
            "phone": "f",
            "address": {"columns": ["b", "c", "d"], "join": ", "},
            "city": "e",
            "province": {"column": "f", "values": {"HCM": "Hồ Chí Minh"}},
            "user_id": "g",
            "external_ids": {"pos_id": "h", "zalo_id": "b"},
            "consent": {"email_marketing": "i"},
        },
        "traits": {
            "note": "c",
            "visits": {"column": "j", "type": "integer"},
            "score": {"column": "j", "type": "number"},
        },
    },
    "orders": {
        "source": "pos",
        "kind": "orders",
        "record_id": "a",
        "currency": "VND",
        "fields": {
            "timestamp": "k",
            "total": "l",
            "discount": "m",
            "customer_id": "b",
            "email": "e",
            "name": "c",
            "payment_method": "d",
            "products": "n",
        },
        "properties": ["f"],
    },
    "engagement": {
        "source": "esp",
        "kind": "engagement",
        "record_id": "a",
        "fields": {"event": "d", "timestamp": "k", "email": "e", "campaign_id": "b", "link_url": "c"},
    },
    "feedback": {
        "source": "survey",
        "kind": "feedback",
        "record_id": "a",
        "fields": {"timestamp": "k", "nps": "j", "rating": "m", "review": "c", "phone": "f"},
    },
}


@st.composite
def tables(draw: st.DrawFn) -> pa.Table:
    rows = draw(st.integers(min_value=1, max_value=12))

    def column(values: st.SearchStrategy[str | None]) -> pa.Array:
        return pa.array([draw(values) for _ in range(rows)], pa.string())

    maybe = st.one_of(st.none(), text)
    ids = [f"R{i}" for i in range(rows)]
    return pa.table(
        {
            "a": pa.array(ids),
            **{name: column(maybe) for name in "bcefgh"},
            "d": column(
                st.sampled_from(["Nam", "Nữ", "M", "F", "x", "opened", "Email Link Clicked", "click", "", None])
            ),
            "i": column(st.sampled_from(["yes", "no", "có", "0", "maybe", None])),
            "j": column(st.sampled_from(["7", "-3", "10", "11", "1e3", "2.5", "x", None])),
            "k": column(
                st.sampled_from(["2026-03-01 08:30:00", "2026-03-01T01:30:00.123Z", "2026-02-30 00:00", "", None])
            ),
            "l": column(st.sampled_from(["1.250.000 ₫", "1,250,000đ", "1250000", "12.50 USD", "$12.50", "abc", None])),
            "m": column(st.sampled_from(["50.000 ₫", "3", "5", "0", None])),
            "n": column(st.sampled_from(["A:1;B:2", "A", "A:2:15.000 ₫;B:1", "A:x", "", ";A:1;", None])),
        }
    )


def _both(kind: str, table: pa.Table) -> tuple[list[Any], list[Any], int]:
    mapping = parse_mapping(MAPPINGS[kind])
    lines = pa.array(range(2, table.num_rows + 2), pa.int64())
    out = []
    for vectorised in (True, False):
        job = Job(
            mapping, "f.csv", "Asia/Ho_Chi_Minh", "VND", EXPORTED_AT, vectorised=vectorised, clock=lambda: RECEIVED
        )
        try:
            records, rejects = job.batch(RawBatch(table, lines, 0))
        finally:
            job.close()
        out.append((records, rejects))
    (fast, fast_rejects), (slow, slow_rejects) = out
    assert fast_rejects == slow_rejects
    return fast, slow, len(fast_rejects)


@pytest.mark.parametrize("kind", sorted(MAPPINGS))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=tables())
def test_the_fast_path_writes_the_reference_bytes(kind: str, table: pa.Table) -> None:
    fast, slow, rejected = _both(kind, table)
    assert len(fast) + rejected == table.num_rows
    assert fast == slow  # every field of every LogRecord, the body byte for byte


def test_the_generated_tables_exercise_both_outcomes() -> None:
    """Over a fixed sample, some rows are accepted and some rejected in every kind (the test above is not empty)."""
    table = pa.table(
        {
            "a": ["R1", "R2"],
            **{name: [TRICKY[4], TRICKY[7]] for name in "bcefgh"},
            "d": ["click", "Nam"],
            "i": ["yes", "maybe"],
            "j": ["7", "11"],
            "k": ["2026-03-01 08:30:00", "2026-02-30 00:00"],
            "l": ["1.250.000 ₫", "abc"],
            "m": ["5", "5"],
            "n": ["A:2:15.000 ₫;B:1", "A:x"],
        }
    )
    for kind in MAPPINGS:
        fast, slow, rejected = _both(kind, table)
        assert fast == slow
        assert (len(fast), rejected) == (1, 1), kind


_RECEIVED_KEY = re.compile(rb'"receivedAt":"[^"]*"')


@pytest.mark.parametrize("name", ["crm_contacts", "pos_sales", "email_engagement", "support_tickets", "surveys"])
def test_the_demo_files_give_the_same_log_both_ways(tmp_path: Path, demo_dir: Path, name: str) -> None:
    logs = []
    for vectorised in (True, False):
        with Workspace.init(tmp_path / f"ws-{vectorised}") as ws:
            import_file(
                demo_dir / f"{name}.csv",
                load_mapping(EXAMPLES / f"{name}.yml"),
                store=ws.store,
                log=ws.log,
                timezone="Asia/Ho_Chi_Minh",
                default_currency="VND",
                exported_at=EXPORTED_AT,
                vectorised=vectorised,
                block_bytes=4096,  # many small batches
            )
            logs.append(
                [
                    (e.source, e.message_id, e.type, e.timestamp_us, _RECEIVED_KEY.sub(b"", e.body))
                    for e in ws.log.read(0, 100_000)
                ]
            )
    assert logs[0]
    assert logs[0] == logs[1]
