"""`c360 segments ...` through the real entry point, over the people of tests/api/test_segments_api.py.

Builds are made at a fixed time (``AS_OF``), so members never depend on today's date; a definition that cannot be
used exits 2 naming the key, an unknown segment or profile exits 5, and nothing is saved by a refused command.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from c360.services import segments
from c360.workspace import Workspace
from tests.api.test_segments_api import AS_OF, BIG_BUYERS, HCM, built_workspace, pid, populate
from tests.cli.conftest import Invoke
from tests.cli.support import SETTING_ENV_VARS

WIDE = {"COLUMNS": "200"}

BIG_BUYERS_YAML = """\
name: big_buyers
title: Big buyers
description: Spent 2M VND in a year, outside Hà Nội
where:
  all:
    - event: Order Completed
      sum: total
      op: ">="
      value: 2000000
      within_days: 365
    - not: {trait: province, op: "=", value: "Hà Nội"}
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """The people, four saved segments and a build at AS_OF; shared by the tests that only read."""
    with pytest.MonkeyPatch.context() as patch:
        for name in SETTING_ENV_VARS:
            patch.delenv(name, raising=False)
        ws = built_workspace(tmp_path_factory.mktemp("segments-cli") / "ws")
    try:
        yield ws
    finally:
        ws.close()


@pytest.fixture
def seg(run_main: Invoke, built: Workspace) -> Invoke:
    """``c360 segments <args> -w <built>``."""

    def invoke(*args: str) -> Any:
        return run_main("segments", *args, "-w", str(built.path), env=WIDE)

    return invoke


@pytest.fixture
def fresh(run_main: Invoke, workspace: Workspace) -> Invoke:
    """``c360 segments <args> -w <an empty workspace>``: for the commands that write."""

    def invoke(*args: str) -> Any:
        return run_main("segments", *args, "-w", str(workspace.path), env=WIDE)

    return invoke


def _json(result: Any) -> Any:
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def _error(result: Any, code: int) -> str:
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert result.stdout == ""
    text: str = result.stderr.strip()
    assert text.startswith("error: ")
    return text.removeprefix("error: ")


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def _saved_names(ws: Workspace) -> list[str]:
    return [row["name"] for row in segments.list_segments(ws) if not row["ready_made"]]


# --- reading definitions -------------------------------------------------------------------------------------------
def test_list(seg: Invoke) -> None:
    rows = _json(seg("list", "--json"))
    assert [(r["name"], r["members"]) for r in rows if not r["ready_made"]] == [
        ("big_buyers", 1), ("buyers", 3), ("hcm", 3), ("spenders", 1)
    ]  # fmt: skip
    assert len([r for r in rows if r["ready_made"]]) == 11
    human = seg("list")
    assert human.exit_code == 0, human.stderr
    for text in ("big_buyers", "Big buyers", "Ho Chi Minh City", "rfm_champions", "RFM: Champions"):
        assert text in human.stdout


def test_show(seg: Invoke) -> None:
    data = _json(seg("show", "big_buyers", "--json"))
    assert (data["definition"], data["members"], data["ready_made"]) == (BIG_BUYERS, 1, False)
    human = seg("show", "big_buyers")
    assert human.exit_code == 0, human.stderr
    for text in ("Big buyers", "Spent 2M VND in a year, outside Hà Nội", "Definition:", "event: Order Completed",
                 "value: Hà Nội", "within_days: 365"):  # fmt: skip
        assert text in human.stdout
    assert _error(seg("show", "nope"), 5) == "no segment 'nope'"


# --- writing definitions -------------------------------------------------------------------------------------------
def test_create_from_a_yaml_file_and_from_stdin(
    fresh: Invoke, workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = fresh("create", _write(tmp_path, "big.yaml", BIG_BUYERS_YAML))
    assert created.exit_code == 0, created.stderr
    assert created.stdout.startswith("Created segment big_buyers (Big buyers)")
    assert segments.get(workspace, "big_buyers")["definition"] == BIG_BUYERS

    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(HCM)))
    data = _json(fresh("create", "-", "--json"))
    assert (data["name"], data["definition"], data["members"]) == ("hcm", HCM, 0)
    monkeypatch.setattr("sys.stdin", io.StringIO("{name: anyone, where: {trait: province, op: is set}}"))
    assert fresh("create", "-").exit_code == 0  # YAML's flow style, which looks like JSON but is not
    assert _saved_names(workspace) == ["anyone", "big_buyers", "hcm"]


@pytest.mark.parametrize(
    ("text", "code", "message"),
    [
        (BIG_BUYERS_YAML.replace("trait: province", "trait: provnce"), 2,
         "where.all[1].not.trait: no trait 'provnce'; did you mean 'province'"),
        (BIG_BUYERS_YAML.replace("value: 2000000", "value: lots"), 2,
         "where.all[0].value: must be a number, not 'lots'"),
        ('{"name": "x", "where": {"trait": "orders_365d", "op": "starts with", "value": "1"}}', 2,
         "where.op: `starts with` needs text; this is number"),
        ("name: x\nwhere: [unclosed", 2, "FILE: standard input is not valid YAML"),
        ('{"name": "x", "where": ', 2, "FILE: standard input is not valid JSON"),
        ("", 2, "FILE: standard input is empty"),
        ("- a list\n", 2, "definition: a segment definition is a mapping with `name` and `where`"),
    ],
    ids=["unknown-trait", "text-for-a-number", "text-op-on-a-number", "bad-yaml", "bad-json", "empty", "a-list"],
)  # fmt: skip
def test_a_refused_definition_exits_2_naming_the_key_and_saves_nothing(
    fresh: Invoke, workspace: Workspace, monkeypatch: pytest.MonkeyPatch, text: str, code: int, message: str
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    assert _error(fresh("create", "-"), code).startswith(message)
    assert _saved_names(workspace) == []
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    assert _error(fresh("preview", "-"), code).startswith(message)


def test_create_refuses_a_missing_file_and_a_name_in_use(fresh: Invoke, workspace: Workspace, tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    assert _error(fresh("create", str(missing)), 2) == f"FILE: cannot read {missing}: No such file or directory"
    path = _write(tmp_path, "big.yaml", BIG_BUYERS_YAML)
    assert fresh("create", path).exit_code == 0
    again = _write(tmp_path, "again.yaml", BIG_BUYERS_YAML.replace("title: Big buyers", "title: Other"))
    assert _error(fresh("create", again), 2) == "name: segment 'big_buyers' exists; update it instead"
    assert segments.get(workspace, "big_buyers")["title"] == "Big buyers"


def test_update(fresh: Invoke, workspace: Workspace, tmp_path: Path) -> None:
    assert fresh("create", _write(tmp_path, "hcm.json", json.dumps(HCM))).exit_code == 0
    change = "title: Huế\nwhere: {trait: province, op: '=', value: Huế}\n"
    data = _json(fresh("update", "hcm", _write(tmp_path, "hue.yaml", change), "--json"))
    assert data["definition"] == {
        "name": "hcm",
        "title": "Huế",
        "where": {"trait": "province", "op": "=", "value": "Huế"},
    }
    human = fresh("update", "hcm", _write(tmp_path, "hue2.yaml", change))
    assert human.stdout.startswith("Updated segment hcm (Huế)")

    assert _error(fresh("update", "nope", _write(tmp_path, "nope.yaml", change)), 5) == "no segment 'nope'"
    renamed = _write(tmp_path, "renamed.yaml", "name: hue\n" + change)
    assert _error(fresh("update", "hcm", renamed), 2) == "name: must be 'hcm', the segment being written"
    assert segments.get(workspace, "hcm")["definition"] == data["definition"]  # unchanged by the refusals


def test_a_cycle_is_refused(fresh: Invoke, workspace: Workspace, tmp_path: Path) -> None:
    assert fresh("create", _write(tmp_path, "hcm.json", json.dumps(HCM))).exit_code == 0
    local = "name: local\nwhere: {all: [{segment: hcm}, {trait: orders_365d, op: '>', value: 0}]}\n"
    assert fresh("create", _write(tmp_path, "local.yaml", local)).exit_code == 0
    loop = _write(tmp_path, "loop.yaml", "where: {any: [{segment: local}, {trait: province, op: '=', value: HCM}]}")
    assert "cycle" in _error(fresh("update", "hcm", loop), 2)
    assert segments.get(workspace, "hcm")["definition"] == HCM


def test_delete(fresh: Invoke, workspace: Workspace, tmp_path: Path) -> None:
    assert fresh("create", _write(tmp_path, "hcm.json", json.dumps(HCM))).exit_code == 0
    assert fresh("create", _write(tmp_path, "in.yaml", "name: in_hcm\nwhere: {segment: hcm}\n")).exit_code == 0
    assert _error(fresh("delete", "hcm"), 2) == "name: segment 'in_hcm' refers to 'hcm'; change it first"
    assert _json(fresh("delete", "in_hcm", "--json")) == {"deleted": "in_hcm"}
    assert fresh("delete", "hcm").stdout.strip() == "Deleted segment hcm"
    assert _saved_names(workspace) == []
    assert _error(fresh("delete", "hcm"), 5) == "no segment 'hcm'"


def test_preview(seg: Invoke, tmp_path: Path) -> None:
    draft = _write(tmp_path, "draft.yaml", "where: {all: [{trait: orders_365d, op: '>=', value: 1}, {segment: hcm}]}")
    assert _json(seg("preview", draft, "--json")) == {"size": 1, "profiles": 5, "as_of": AS_OF.isoformat()}
    assert seg("preview", draft).stdout.strip() == "The draft holds 1 of 5 profiles (20.0%)"


# --- the build -----------------------------------------------------------------------------------------------------
def test_build(run_main: Invoke, workspace: Workspace, tmp_path: Path) -> None:
    populate(workspace)

    def seg(*args: str) -> Any:
        return run_main("segments", *args, "-w", str(workspace.path), env=WIDE)

    assert seg("create", _write(tmp_path, "big.yaml", BIG_BUYERS_YAML)).exit_code == 0
    # no offset: the workspace's time (Asia/Ho_Chi_Minh, UTC+7)
    data = _json(seg("build", "--as-of", "2026-03-01T19:00", "--json"))
    assert (data["as_of"], data["engine"], data["profiles"]) == (AS_OF.isoformat(), "duckdb", 5)
    assert data["segments"]["big_buyers"] == {"members": 1, "entered": 1, "exited": 0}
    assert data["segments"]["rfm_champions"] == {"members": 1, "entered": 1, "exited": 0}
    assert data["traits_written"] == 5
    assert _json(seg("members", "big_buyers", "--json"))["members"][0]["profile_id"] == pid(workspace, "u-lan")

    again = seg("build", "--as-of", AS_OF.isoformat())
    assert again.exit_code == 0, again.stderr
    lines = again.stdout.splitlines()
    assert any(line.split() == ["│", "big_buyers", "│", "1", "│", "0", "│", "0", "│"] for line in lines), lines
    assert "Built 12 segments over 5 profiles as of 2026-03-01 19:00 on duckdb" in again.stdout
    assert "; 0 profiles' computed traits changed" in again.stdout

    later = _json(seg("build", "--as-of", "2027-06-01", "--json"))
    assert later["segments"]["big_buyers"] == {"members": 0, "entered": 0, "exited": 1}
    assert _error(seg("build", "--as-of", "yesterday"), 2) == (
        "--as-of: 'yesterday' is not an ISO date or time (2026-03-01T09:00:00+07:00)"
    )


# --- members -------------------------------------------------------------------------------------------------------
def test_members_as_csv(seg: Invoke, built: Workspace, tmp_path: Path) -> None:
    result = seg("members", "hcm", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    rows = list(csv.reader(io.StringIO(result.stdout)))
    page = segments.members(built, "hcm")["members"]
    assert rows == [
        ["profile_id", "name", "email", "phone", "entered_at"],
        *([m["profile_id"], m["name"], m["email"], "", m["entered_at"]] for m in page),
    ]
    assert sorted(row[0] for row in rows[1:]) == sorted(pid(built, u) for u in ("u-lan", "u-tuan", "u-old"))

    target = tmp_path / "hcm.csv"
    written = seg("members", "hcm", "--format", "csv", "--out", str(target), "--limit", "1")
    assert written.stdout.strip() == f"Wrote 3 members of hcm to {target}"  # every member: --limit is for pages
    assert target.read_bytes().decode("utf-8") == result.stdout


def test_members_in_pages(seg: Invoke, built: Workspace, tmp_path: Path) -> None:
    everyone = sorted(pid(built, u) for u in ("u-lan", "u-tuan", "u-old"))
    first = _json(seg("members", "hcm", "--format", "json", "--limit", "2"))
    assert ([m["profile_id"] for m in first["members"]], first["next"], first["total"]) == (
        everyone[:2],
        everyone[1],
        3,
    )
    second = _json(seg("members", "hcm", "--json", "--limit", "2", "--after", first["next"]))
    assert ([m["profile_id"] for m in second["members"]], second["next"]) == (everyone[2:], None)

    table = seg("members", "hcm", "--limit", "2")
    assert table.exit_code == 0, table.stderr
    assert "Members of hcm: 3" in table.stdout
    assert f"More: c360 segments members hcm --after {everyone[1]}" in table.stdout
    assert "Trần Thị Lan" in seg("members", "big_buyers").stdout

    target = tmp_path / "page.json"
    assert seg("members", "hcm", "--format", "json", "--out", str(target)).exit_code == 0
    assert json.loads(target.read_text(encoding="utf-8"))["total"] == 3


def test_members_refusals(seg: Invoke, tmp_path: Path) -> None:
    assert _error(seg("members", "nope"), 5) == "no segment 'nope'"
    assert _error(seg("members", "nope", "--format", "csv"), 5) == "no segment 'nope'"
    nothing = tmp_path / "nope.csv"
    assert _error(seg("members", "nope", "--format", "csv", "--out", str(nothing)), 5) == "no segment 'nope'"
    assert not nothing.exists()
    assert _error(seg("members", "hcm", "--limit", "0"), 2) == "limit: must be from 1 to 1000"
    out = str(tmp_path / "x.csv")
    assert (
        _error(seg("members", "hcm", "--out", out), 2) == "--out: writes csv or json: add --format csv or --format json"
    )
    assert not Path(out).exists()


# --- explanations and reports ------------------------------------------------------------------------------------
def test_explain(seg: Invoke, built: Workspace) -> None:
    minh = pid(built, "u-minh")
    human = seg("explain", "spenders", "--profile", minh)
    assert human.exit_code == 0, human.stderr
    lines = [line.strip("│├└─ ") for line in human.stdout.splitlines()]
    assert lines[0] == f"Profile {minh} is not in spenders now (not a member after the last build)"
    assert lines[1] == "✗ not met: all of  [where]"
    assert lines[2].startswith("✓ met: trait total_spend_365d >= 2000000  (observed: 2500000")
    assert lines[3] == "✗ not met: not  [where.all[1]]"
    assert lines[4] == "✓ met: trait province = Hà Nội  (observed: Hà Nội)  [where.all[1].not]"

    data = _json(seg("explain", "spenders", "--profile", pid(built, "u-lan"), "--json"))
    assert (data["member"], data["member_since_last_build"]) == (True, True)
    assert [c["met"] for c in data["explanation"]["children"]] == [True, True]

    assert _error(seg("explain", "spenders", "--profile", "prof_nobody"), 5) == "no profile 'prof_nobody'"
    assert _error(seg("explain", "nope", "--profile", minh), 5) == "no segment 'nope'"


def test_overlap(seg: Invoke) -> None:
    data = _json(seg("overlap", "hcm", "buyers", "--json"))
    assert data == {"a": "hcm", "b": "buyers", "a_size": 3, "b_size": 3, "both": 1, "only_a": 2, "only_b": 2}
    human = seg("overlap", "hcm", "buyers").stdout
    assert [line.split("│")[1:3] for line in human.splitlines() if "only in" in line] == [
        [" only in hcm    ", " 2 "], [" only in buyers ", " 2 "]
    ]  # fmt: skip
    assert _error(seg("overlap", "hcm", "nope"), 5) == "no segment 'nope'"


def test_history(seg: Invoke, built: Workspace) -> None:
    hoa = pid(built, "u-hoa")
    data = _json(seg("history", "--profile", hoa, "--json"))
    assert data["profile_id"] == hoa
    assert sorted((h["segment"], h["exited_at"]) for h in data["history"]) == [("buyers", None), ("rfm_lost", None)]
    human = seg("history", "--profile", hoa).stdout
    assert "rfm_lost" in human
    assert "(member)" in human
    assert _error(seg("history", "--profile", "prof_nobody"), 5) == "no profile 'prof_nobody'"


def test_catalog(seg: Invoke) -> None:
    data = _json(seg("catalog", "--json"))
    assert (data["traits"]["province"], data["computed_traits"]["orders_365d"]) == ("string", "number")
    assert {e["event"]: e["properties"] for e in data["events"]}["Order Completed"]["total"] == "number"
    assert {"big_buyers", "hcm", "rfm_lost"} <= set(data["segments"])
    human = seg("catalog").stdout
    for text in ("orders_365d", "computed", "Order Completed", "total (number)", "Segments (segment: NAME)"):
        assert text in human


def test_rfm(seg: Invoke, fresh: Invoke) -> None:
    data = _json(seg("rfm", "--json"))
    assert (data["as_of"], data["scored"]) == (AS_OF.isoformat(), 3)
    champions = next(g for g in data["groups"] if g["group"] == "Champions")
    assert (champions["profiles"], champions["monetary"]) == (1, 3_500_000)
    human = seg("rfm").stdout
    assert "RFM as of 2026-03-01 19:00: 3 profiles with an order in 365 days" in human
    assert "3,500,000 VND" in human
    assert any(line.split() == ["│", "R5", "│", "0", "│", "0", "│", "0", "│", "0", "│", "1", "│"]
               for line in human.splitlines())  # fmt: skip
    assert fresh("rfm").stdout.strip() == "No build yet: run `c360 segments build`"
