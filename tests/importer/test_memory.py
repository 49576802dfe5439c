"""Streaming: the importer's memory does not grow with the file. A child process imports 20,000 and then
200,000 rows; its peak resident memory may differ by less than 30 MB.

The batches are made small (256 KB of the file) so that the smaller import already reaches the steady state —
several batches read, mapped and waiting for the log — whose memory the larger one must not exceed.

The log here is a stand-in that takes records and forgets them: the real log's SQLite page cache (a setting of
the log, 64 MB per connection) fills as the log grows, which is the log's memory, not the importer's.
`bench/import.py` measures the whole, with the real log, at two sizes.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.importer.conftest import EXAMPLES

CHILD = """
import json, resource, sys
from concurrent.futures import Future
from pathlib import Path

from c360.eventlog import AppendResult
from c360.importer import import_file, load_mapping
from c360.workspace import Workspace


class ForgetfulLog:
    def submit(self, records):
        done = Future()
        done.set_result(AppendResult(1, len(records), len(records)))
        return done


with Workspace.init(Path(sys.argv[2])) as ws:
    result = import_file(Path(sys.argv[1]), load_mapping(Path(sys.argv[3])), store=ws.store, log=ForgetfulLog(),
                         timezone="Asia/Ho_Chi_Minh", default_currency="VND", block_bytes=256 << 10)
print(json.dumps({"accepted": result.accepted, "rejected": result.rejected,
                  "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def _crm_file(path: Path, demo: Path, rows: int) -> None:
    with (demo / "crm_contacts.csv").open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        sample = list(reader)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        for i in range(rows):
            row = list(sample[i % len(sample)])
            row[0] = f"C{i:09d}"
            if i % 50 == 0:
                row[4] = "not a date"  # a rejected row now and then: rejects are stored as they come
            writer.writerow(row)


def _peak(tmp_path: Path, demo: Path, rows: int) -> dict[str, int]:
    data = tmp_path / f"crm-{rows}.csv"
    _crm_file(data, demo, rows)
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(data), str(tmp_path / f"ws-{rows}"), str(EXAMPLES / "crm_contacts.yml")],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    measured: dict[str, int] = json.loads(result.stdout.strip().splitlines()[-1])
    assert measured["accepted"] + measured["rejected"] == rows
    return measured


@pytest.mark.slow
def test_peak_memory_does_not_grow_with_the_file(tmp_path: Path, demo_dir: Path) -> None:
    small = _peak(tmp_path, demo_dir, 20_000)
    large = _peak(tmp_path, demo_dir, 200_000)
    growth_mb = (large["peak_kb"] - small["peak_kb"]) / 1024
    assert growth_mb < 30, (
        f"peak RSS {small['peak_kb'] // 1024} MB for 20k rows, {large['peak_kb'] // 1024} MB for 200k"
    )
