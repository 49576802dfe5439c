"""Times without a zone are read in the mapping's (else the workspace's) zone and stored as the right UTC
instant; formats are checked against the calendar; birth dates are dates."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from c360.domain.timestamps import to_micros
from tests.importer.conftest import Importer, customers_mapping


def _engagement(**extra: Any) -> dict[str, Any]:
    mapping: dict[str, Any] = {
        "source": "esp",
        "kind": "engagement",
        "record_id": "id",
        "event": "Email Opened",
        "fields": {"timestamp": "at", "email": "email"},
    }
    mapping.update(extra)
    return mapping


@pytest.mark.parametrize(
    ("written", "zone", "utc"),
    [
        ("2026-03-01 08:30:00", None, "2026-03-01T01:30:00.000Z"),  # the workspace's zone: Asia/Ho_Chi_Minh
        ("2026-03-01T08:30", None, "2026-03-01T01:30:00.000Z"),
        ("2026-03-01 00:15:00", None, "2026-02-28T17:15:00.000Z"),  # the local date is not the UTC date
        ("2026-03-01", None, "2026-02-28T17:00:00.000Z"),
        ("2026-03-01 08:30:00.250", None, "2026-03-01T01:30:00.250Z"),
        ("2026-03-01 08:30:00", "Asia/Tokyo", "2026-02-28T23:30:00.000Z"),
        ("2026-03-01 08:30:00", "UTC", "2026-03-01T08:30:00.000Z"),
        ("2026-03-01T08:30:00Z", None, "2026-03-01T08:30:00.000Z"),  # a zone in the value wins
        ("2026-03-01T08:30:00+09:00", None, "2026-02-28T23:30:00.000Z"),
        ("2026-03-01T08:30:00.123456+07:00", None, "2026-03-01T01:30:00.123Z"),
    ],
)
def test_naive_times_are_read_in_the_zone(importer: Importer, written: str, zone: str | None, utc: str) -> None:
    path = importer.write("e.csv", f"id,at,email\nE1,{written},a@b.vn\n")
    mapping = _engagement(**({"timezone": zone} if zone else {}))
    assert importer.run(path, mapping).accepted == 1
    (event,) = importer.events()
    assert event["timestamp"] == utc
    (logged,) = importer.logged()
    assert logged.timestamp_us == to_micros(dt.datetime.fromisoformat(utc.replace("Z", "+00:00")))


def test_a_format_reads_local_times(importer: Importer) -> None:
    path = importer.write("e.csv", "id,at,email\nE1,01/03/2026 08:30,a@b.vn\nE2,31/02/2026 08:30,a@b.vn\n")
    mapping = _engagement(fields={"timestamp": {"column": "at", "format": "%d/%m/%Y %H:%M"}, "email": "email"})
    result = importer.run(path, mapping)
    assert (result.accepted, result.rejected) == (1, 1)
    assert importer.events()[0]["timestamp"] == "2026-03-01T01:30:00.000Z"
    (reject,) = importer.rejects()
    assert (reject["line"], reject["column"], reject["field"]) == (3, "at", "fields.timestamp")
    assert "%d/%m/%Y %H:%M" in reject["reason"]
    assert "31/02/2026 08:30" in reject["reason"]


@pytest.mark.parametrize(
    ("formats", "written", "birthday"),
    [
        (None, "1990-05-17", "1990-05-17"),
        ("%Y%m%d", "19900517", "1990-05-17"),
        ("%d/%m/%Y", "17/05/1990", "1990-05-17"),
        (["%d/%m/%Y", "%Y-%m-%d"], "1990-05-17", "1990-05-17"),
        ("%Y%m%d", "19900230", None),  # 30 February: rejected, not rolled over to March
        (None, "17/05/1990", None),
    ],
)
def test_birth_dates(importer: Importer, formats: Any, written: str, birthday: str | None) -> None:
    path = importer.write("p.csv", f"id,name,phone,dob\nC1,An,0912345678,{written}\n")
    spec = {"column": "dob", "format": formats} if formats else "dob"
    result = importer.run(path, customers_mapping(fields={"birth_date": spec}))
    if birthday is None:
        assert result.rejected == 1
        assert importer.rejects()[0]["field"] == "fields.birth_date"
    else:
        assert importer.events()[0]["traits"]["birthday"] == birthday


def test_exported_at_without_a_zone_is_local(importer: Importer) -> None:
    path = importer.write("p.csv", "id,name,phone\nC1,An,0912345678\n")
    importer.run(path, customers_mapping(), exported_at=dt.datetime(2026, 3, 1, 8, 30))
    assert importer.events()[0]["timestamp"] == "2026-03-01T01:30:00.000Z"


def test_the_file_time_is_the_default_export_time(importer: Importer) -> None:
    path = importer.write("p.csv", "id,name,phone\nC1,An,0912345678\n")
    stamp = dt.datetime(2025, 12, 24, 18, 0, 0, tzinfo=dt.UTC).timestamp()
    import os

    os.utime(path, (stamp, stamp))
    importer.run(path, customers_mapping(), exported_at=None)
    assert importer.events()[0]["timestamp"] == "2025-12-24T18:00:00.000Z"
