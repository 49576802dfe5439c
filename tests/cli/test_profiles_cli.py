"""`c360 profiles get|explain|search|events` and `c360 export identities`, through the real entry point."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from c360.workspace import Workspace
from tests.cli.conftest import Invoke
from tests.identity_rows import AN, AN_OLD, ANH, ANH2, HELD_PHONE, an_message_ids, populate

WIDE = {"COLUMNS": "200"}


@pytest.fixture
def ws(workspace: Workspace) -> Workspace:
    populate(workspace)
    return workspace


def _w(ws: Workspace) -> list[str]:
    return ["-w", str(ws.path)]


def test_get_by_id_shows_the_profile_and_its_identifiers(run_main: Invoke, ws: Workspace) -> None:
    result = run_main("profiles", "get", AN, *_w(ws), env=WIDE)
    assert result.exit_code == 0, result.stderr
    for text in ("Nguyễn Văn An", "annguyen@gmail.com", "crm:C0000001", "anon-an-2", "trait birthday", "1990-05-17"):
        assert text in result.stdout
    assert "2026-01-10 16:00:00" in result.stdout  # times in the workspace's zone (Asia/Ho_Chi_Minh)


def test_get_a_merged_id_json(run_main: Invoke, ws: Workspace) -> None:
    result = run_main("profiles", "get", AN_OLD, "--json", *_w(ws))
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["profile_id"], data["merged_from"]) == (AN, AN_OLD)
    assert data["first_seen_at"] == "2026-01-10T09:00:00.000Z"


@pytest.mark.parametrize(
    "option",
    [
        ["--phone", "0912 345 678"],
        ["--email", "AN.NGUYEN@gmail.com"],
        ["--user-id", "u-an"],
        ["--anonymous-id", "crm:C0000001"],
        ["--loyalty-card", "VIP-0001"],
    ],
)
def test_get_by_identifier(run_main: Invoke, ws: Workspace, option: list[str]) -> None:
    result = run_main("profiles", "get", *option, "--json", *_w(ws))
    assert result.exit_code == 0, result.stderr
    assert [p["profile_id"] for p in json.loads(result.stdout)["profiles"]] == [AN]


def test_get_a_held_phone_says_why(run_main: Invoke, ws: Workspace) -> None:
    result = run_main("profiles", "get", "--phone", "0909 123 123", *_w(ws), env=WIDE)
    assert result.exit_code == 0, result.stderr
    assert f"phone {HELD_PHONE} is held back from joining profiles: fan-out guard" in result.stdout
    assert "Nguyễn Văn An" in result.stdout
    assert "Trần Thị Bích" in result.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["prof_nobody"], 5, "error: no profile 'prof_nobody'"),
        (["--email", "an.nguyen@"], 2, "error: email: 'an.nguyen@' is not an email address"),
        (["--phone", "12"], 2, "error: phone: '12' is not a valid phone number"),
        (["--email", "nobody@example.vn"], 5, "error: no profile has email 'nobody@example.vn' (--email)"),
        (
            [],
            2,
            "error: give a profile id or exactly one of --email, --phone, --user-id, --anonymous-id, --loyalty-card",
        ),
        (
            [AN, "--email", "a@b.vn"],
            2,
            "error: give a profile id or exactly one of --email, --phone, --user-id, --anonymous-id, --loyalty-card",
        ),
    ],
)
def test_get_errors_name_what_is_wrong(
    run_main: Invoke, ws: Workspace, args: list[str], code: int, message: str
) -> None:
    result = run_main("profiles", "get", *args, *_w(ws), env=WIDE)
    assert (result.exit_code, result.stdout) == (code, "")
    assert result.stderr.strip() == message


def test_explain(run_main: Invoke, ws: Workspace) -> None:
    human = run_main("profiles", "explain", AN, *_w(ws), env=WIDE)
    assert human.exit_code == 0, human.stderr
    for text in ("Edges", "probabilistic", "p=0.991", "Merges", "prof_an_older", "Held identifiers", HELD_PHONE):
        assert text in human.stdout
    assert "Open review items" in human.stdout
    data = json.loads(run_main("profiles", "explain", AN, "--json", *_w(ws)).stdout)
    assert [m["merged_id"] for m in data["merges"]] == ["prof_an_older", AN_OLD]
    assert [(r["kind"], r["id_value"]) for r in data["review"]] == [("held_value", HELD_PHONE)]


def test_search(run_main: Invoke, ws: Workspace) -> None:
    data = json.loads(run_main("profiles", "search", "NGUYEN VAN ANH", "--json", *_w(ws)).stdout)
    assert [p["profile_id"] for p in data["profiles"]] == [ANH2, ANH]
    human = run_main("profiles", "search", "an nguyen van", *_w(ws), env=WIDE)
    assert human.exit_code == 0, human.stderr
    lines = [line for line in human.stdout.splitlines() if "prof_" in line]
    assert AN in lines[0]
    assert "exact" in lines[0]
    assert run_main("profiles", "search", "zzz", *_w(ws)).stdout.strip() == "Nobody matches 'zzz'"
    bad = run_main("profiles", "search", " ", *_w(ws))
    assert (bad.exit_code, bad.stderr.strip()) == (
        2,
        "error: q: give a name, part of a phone number or part of an email",
    )


def test_events_page_by_page(run_main: Invoke, ws: Workspace) -> None:
    seen: list[str] = []
    before: list[str] = []
    while True:
        result = run_main("profiles", "events", AN, "--limit", "9", "--json", *before, *_w(ws))
        assert result.exit_code == 0, result.stderr
        page = json.loads(result.stdout)
        seen += [e["message_id"] for e in page["events"]]
        if page["next"] is None:
            break
        before = ["--before", page["next"]]
    assert len(seen) == len(set(seen))
    assert set(seen) == an_message_ids()


def test_events_for_people(run_main: Invoke, ws: Workspace) -> None:
    result = run_main("profiles", "events", AN, "-n", "3", *_w(ws), env=WIDE)
    assert result.exit_code == 0, result.stderr
    assert "Product Viewed: Áo thun 11" in result.stdout
    assert f"More: c360 profiles events {AN} --before " in result.stdout
    bad = run_main("profiles", "events", AN, "--before", "x", *_w(ws))
    assert (bad.exit_code, bad.stderr.strip()) == (
        2,
        "error: before: 'x' is not a cursor from a previous page's `next`",
    )
    unknown = run_main("profiles", "events", "nope", *_w(ws))
    assert (unknown.exit_code, unknown.stderr.strip()) == (5, "error: no profile 'nope'")


def test_export_identities(run_main: Invoke, ws: Workspace, tmp_path: Path) -> None:
    target = tmp_path / "identities.csv"
    result = run_main("export", "identities", "--out", str(target), "--json", *_w(ws))
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"identities": 8, "out": str(target)}
    with target.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {"source": "crm", "record_id": "C0000001", "profile_id": AN} in rows
    assert {"source": "web", "record_id": "anon-an-2", "profile_id": AN} in rows
    assert len(rows) == 8
    stdout = run_main("export", "identities", *_w(ws))
    assert stdout.stdout.splitlines()[0] == "source,record_id,profile_id"
    assert len(stdout.stdout.splitlines()) == 9


def test_export_identities_refuses_other_files(run_main: Invoke, ws: Workspace, tmp_path: Path) -> None:
    result = run_main("export", "identities", "--out", str(tmp_path / "ids.txt"), *_w(ws))
    assert (result.exit_code, result.stderr.strip()) == (2, "error: --out: the file must end in .csv")
    missing = tmp_path / "no-such-folder" / "ids.csv"
    result = run_main("export", "identities", "--out", str(missing), *_w(ws))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: --out: cannot write {missing}")
