"""Same config, same bytes; another seed, other bytes; iter_events is exactly events.jsonl; the cache is safe."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from c360.demo import GeneratorConfig, cached_dataset, generate_to_dir, iter_events
from c360.demo import cache as cache_module

SMALL = GeneratorConfig(customers=400, days=120, seed=7)


def _hashes(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_the_same_config_gives_the_same_bytes_in_every_file(tmp_path: Path) -> None:
    first = generate_to_dir(SMALL, tmp_path / "a")
    second = generate_to_dir(SMALL, tmp_path / "b")
    assert first == second
    hashes = _hashes(tmp_path / "a")
    assert hashes == _hashes(tmp_path / "b")
    assert set(hashes) == {
        "events.jsonl", "pos_sales.csv", "crm_contacts.csv", "email_engagement.csv", "support_tickets.csv",
        "surveys.csv", "catalog.csv", "manifest.json", "truth/records.csv", "truth/people.csv",
    }  # fmt: skip
    assert all(count > 0 for count in first.values()), first


def test_the_bytes_do_not_depend_on_the_process_hash_seed(tmp_path: Path) -> None:
    script = (
        "import sys; from c360.demo import GeneratorConfig, generate_to_dir; "
        "generate_to_dir(GeneratorConfig(customers=400, days=120, seed=7), sys.argv[1])"
    )
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        subprocess.run([sys.executable, "-c", script, str(tmp_path / hash_seed)], check=True, env=env)
    assert _hashes(tmp_path / "1") == _hashes(tmp_path / "2")


def test_a_different_seed_gives_different_data(tmp_path: Path) -> None:
    generate_to_dir(SMALL, tmp_path / "a")
    generate_to_dir(GeneratorConfig(customers=400, days=120, seed=8), tmp_path / "b")
    first, second = _hashes(tmp_path / "a"), _hashes(tmp_path / "b")
    for name in ("events.jsonl", "pos_sales.csv", "crm_contacts.csv", "truth/people.csv"):
        assert first[name] != second[name], name


def test_the_manifest_records_config_rows_and_hashes(tmp_path: Path) -> None:
    counts = generate_to_dir(SMALL, tmp_path)
    manifest = orjson.loads((tmp_path / "manifest.json").read_bytes())
    assert manifest["config"] == {"customers": 400, "days": 120, "seed": 7, "end_date": "2026-10-31"}
    hashes = _hashes(tmp_path)
    for name, entry in manifest["files"].items():
        assert entry["sha256"] == hashes[name], name
        assert entry["rows"] == counts[name]
        lines = (tmp_path / name).read_bytes().count(b"\n")
        assert lines == counts[name] + (0 if name.endswith(".jsonl") else 1), name  # CSVs have a header


def test_iter_events_streams_exactly_the_lines_of_events_jsonl(tmp_path: Path) -> None:
    generate_to_dir(SMALL, tmp_path)
    lines = (tmp_path / "events.jsonl").read_bytes().splitlines()
    streamed = [orjson.dumps(message) for message in iter_events(SMALL)]
    assert streamed == lines


def test_iter_events_is_lazy() -> None:
    # Ten years of 20,000 people would take minutes to generate: the first message must come long before.
    stream = iter_events(GeneratorConfig(customers=20_000, days=3650, seed=1))
    assert next(iter(stream))["type"] in ("page", "screen", "identify", "track")


def test_the_default_end_date_is_fixed() -> None:
    assert GeneratorConfig().end_date == dt.date(2026, 10, 31)
    assert GeneratorConfig(days=365).start_date == dt.date(2025, 11, 1)


@pytest.mark.parametrize("kwargs", [{"customers": 0}, {"days": 0}, {"end_date": "2026-10-31"}])
def test_a_bad_config_is_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises((ValueError, TypeError)):
        GeneratorConfig(**kwargs)  # type: ignore[arg-type]


def test_cached_dataset_generates_once_then_reuses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("C360_CACHE_DIR", str(tmp_path))
    path = cached_dataset(150, 30, 3)
    assert path == tmp_path / "3-150-30-v2"
    assert (path / "manifest.json").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["3-150-30-v2"]  # no scratch folder left behind

    def refuse(*args: object, **kwargs: object) -> dict[str, int]:
        raise AssertionError("a complete cached dataset must not be generated again")

    monkeypatch.setattr(cache_module, "generate_to_dir", refuse)
    assert cached_dataset(150, 30, 3) == path


def test_cached_dataset_keys_a_non_default_end_date(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("C360_CACHE_DIR", str(tmp_path))
    path = cached_dataset(100, 20, 3, end_date=dt.date(2025, 12, 31))
    assert path.name == "3-100-20-20251231-v2"
    manifest = orjson.loads((path / "manifest.json").read_bytes())
    assert manifest["config"]["end_date"] == "2025-12-31"


def test_cached_dataset_never_trusts_a_folder_without_manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("C360_CACHE_DIR", str(tmp_path))
    half = tmp_path / "3-150-30-v2"
    (half / "truth").mkdir(parents=True)
    (half / "events.jsonl").write_text("{half", encoding="utf-8")
    path = cached_dataset(150, 30, 3)
    assert path == half
    assert (path / "manifest.json").is_file()
    assert (path / "events.jsonl").read_bytes().startswith(b'{"type"')


def test_a_failed_generation_leaves_no_cache_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("C360_CACHE_DIR", str(tmp_path))

    def crash(cfg: GeneratorConfig, out_dir: Path, progress: object = None) -> dict[str, int]:
        (Path(out_dir) / "events.jsonl").write_text("partial", encoding="utf-8")
        raise RuntimeError("disk full")

    monkeypatch.setattr(cache_module, "generate_to_dir", crash)
    with pytest.raises(RuntimeError, match="disk full"):
        cached_dataset(150, 30, 3)
    assert list(tmp_path.iterdir()) == []


def test_progress_is_reported_up_to_the_total(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    generate_to_dir(
        GeneratorConfig(customers=50, days=20, seed=1), tmp_path, progress=lambda d, t: calls.append((d, t))
    )
    assert calls
    assert calls[-1][0] == calls[-1][1]
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    assert len({total for _, total in calls}) == 1
