"""`c360 import`: a summary for people, JSON for scripts, and a one-line error (never a traceback) with a
non-zero exit for a bad mapping or an unreadable file."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.importer.conftest import EXAMPLES, Importer, customers_mapping


def _mapping_file(tmp_path: Path, mapping: dict[str, Any]) -> str:
    path = tmp_path / "mapping.yml"
    path.write_text(orjson.dumps(mapping).decode(), encoding="utf-8")
    return str(path)


def test_import_prints_a_summary(importer: Importer, run_c360: Any, demo_dir: Path) -> None:
    mapping = str(EXAMPLES / "pos_sales.yml")
    run = run_c360("import", str(demo_dir / "pos_sales.csv"), "--mapping", mapping, "-w", str(importer.ws.path))
    assert run.exit_code == 0, run.stderr
    assert " rows read, " in run.stdout
    assert " accepted, 0 duplicates, 0 rejected in " in run.stdout
    assert "rows/s" in run.stdout
    again = run_c360("import", str(demo_dir / "pos_sales.csv"), "-m", mapping, "-w", str(importer.ws.path), "--json")
    summary = orjson.loads(again.stdout)
    assert summary["accepted"] == 0
    assert summary["duplicates"] == summary["rows"] > 0
    assert set(summary) >= {"rows", "accepted", "duplicates", "rejected", "seconds", "rows_per_second", "errors"}


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        (
            customers_mapping(fields={"birth_date": {"column": "dob", "format": "%H"}}),
            "error: fields.birth_date.format: '%H' does not name the year, month and day",
        ),
        (customers_mapping(fields={"surname": "x"}), "error: fields.surname: unknown field for kind customers"),
        (customers_mapping(kind="people"), "error: kind: Input should be 'customers'"),
        (customers_mapping(fields={"email": "mail"}), "error: fields.email: column 'mail' is not in people.csv"),
    ],
)
def test_a_bad_mapping_is_one_line_and_exit_2(
    importer: Importer, run_c360: Any, tmp_path: Path, mapping: dict[str, Any], message: str
) -> None:
    data = importer.write("people.csv", "id,name,phone\nC1,An,0912345678\n")
    run = run_c360("import", str(data), "--mapping", _mapping_file(tmp_path, mapping), "-w", str(importer.ws.path))
    assert run.exit_code == 2
    assert run.stderr.strip().startswith(message), run.stderr
    assert "Traceback" not in run.stderr
    assert importer.ws.log.count() == 0


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.csv", None, "cannot read"),
        ("broken.csv.gz", gzip.compress(b"id,name,phone\nC1,An,0912345678\n")[:30], "cannot read"),
        ("binary.parquet", b"PARX", "magic bytes"),
    ],
)
def test_an_unreadable_file_is_one_line_and_non_zero(
    importer: Importer, run_c360: Any, tmp_path: Path, name: str, content: bytes | None, message: str
) -> None:
    path = importer.folder / name
    if content is not None:
        path.write_bytes(content)
    run = run_c360("import", str(path), "-m", _mapping_file(tmp_path, customers_mapping()), "-w", str(importer.ws.path))
    assert run.exit_code != 0
    assert message in run.stderr
    assert "Traceback" not in run.stderr


def test_a_gzip_file_cut_short_keeps_what_was_read_and_says_where_it_stopped(
    importer: Importer, run_c360: Any, tmp_path: Path
) -> None:
    rows = "".join(f"C{i},Nguyễn Văn {i},09{i:08d}\n" for i in range(50_000))
    whole = gzip.compress(("id,name,phone\n" + rows).encode())
    path = importer.folder / "cut.csv.gz"
    path.write_bytes(whole[: len(whole) // 2])
    run = run_c360("import", str(path), "-m", _mapping_file(tmp_path, customers_mapping()), "-w", str(importer.ws.path))
    assert run.exit_code != 0
    assert "cannot read" in run.stderr
    assert "Traceback" not in run.stderr


def test_a_bad_export_time_names_the_option(importer: Importer, run_c360: Any, tmp_path: Path) -> None:
    data = importer.write("people.csv", "id,name,phone\nC1,An,0912345678\n")
    mapping = _mapping_file(tmp_path, customers_mapping())
    run = run_c360("import", str(data), "-m", mapping, "--exported-at", "last week", "-w", str(importer.ws.path))
    assert run.exit_code == 2
    assert "--exported-at: 'last week' is not an ISO 8601 time" in run.stderr
    ok = run_c360("import", str(data), "-m", mapping, "--exported-at", "2026-03-01 08:30", "-w", str(importer.ws.path))
    assert ok.exit_code == 0
    assert importer.events()[0]["timestamp"] == "2026-03-01T01:30:00.000Z"


def test_progress_reports_bytes_of_the_file(importer: Importer) -> None:
    rows = "".join(f"C{i},Nguyễn Văn {i},09{i:08d}\n" for i in range(20_000))
    path = importer.write("people.csv", "id,name,phone\n" + rows)
    seen: list[tuple[int, int]] = []
    importer.run(
        path, customers_mapping(), progress=lambda done, count: seen.append((done, count)), block_bytes=64 << 10
    )
    assert len(seen) > 3
    assert [b for b, _ in seen] == sorted(b for b, _ in seen)
    assert seen[-1] == (path.stat().st_size, 20_000)
