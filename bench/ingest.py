"""Ingest throughput of the tracking API: N events through ``POST /v1/batch`` against one `c360 serve` worker on
loopback, and the in-process ceiling of the same work without HTTP, measured in the same run.

    .venv/bin/python bench/ingest.py                               # 500,000 events, 8 clients
    .venv/bin/python bench/ingest.py --events 100000 --profile     # quicker, plus where the server's time goes

What each number includes:
- bodies: realistic events from `c360.demo.iter_events` (~1 KB of JSON each: user agent, page, campaign, ...),
  unique messageIds, 100 per batch, serialised with orjson and gzipped (level 6) *before* timing; each request
  is one prebuilt body.
- server: one `c360 serve` (one uvicorn worker, and its background worker on, as deployed: since the worker
  moved into a process of its own, that is two processes, and the server CPU printed counts both) on a fresh
  workspace on 127.0.0.1. The clients are threads of *this* process — a separate process from the server, so
  they do not share its GIL — each with its own keep-alive `httpx.Client`, sending its share of the bodies back
  to back (a closed loop: a client sends its next request when the last one is answered). events/s is N over
  the wall time from the first request to the last answer; latencies are per request. The clients and the
  server share the machine's cores: the client and server CPU seconds are printed, so that can be judged.
- ceiling: the same request bodies, in this process, from the same number of threads, through exactly what the
  server does for a request minus HTTP: `c360.collect.body.inflate`, `parse_json_object`,
  `c360.collect.batch.messages_of`, `Collector.prepare` (checks, messageId, receivedAt, skew correction, user
  agent parsing, UTM, the JSON body) and `EventLog.append` (the same group-commit writer, durable: SQLite WAL,
  `synchronous=FULL`), into another fresh workspace. No background worker runs there.
- ratio: server events/s over ceiling events/s. Goal on the 2-core development machine: >= 50,000 events/s
  through HTTP and >= 50 % of the ceiling.
- --without-worker: the same server run again, through the same entry point but with the background worker
  (event processor, compaction) not started — not a deployable configuration: it shows what the worker, sharing
  the server's process and GIL, costs the request path.
- --profile: after the measured runs, a smaller sampled server run (``--profile-events``, default N/5, after 20
  warm-up requests; with --without-worker, one more without the worker). Inside the server process, between
  SIGUSR1 and SIGUSR2 from this process: each thread's CPU seconds, the garbage collector's runs and time, a
  sampler of every thread's Python stack (``sys._current_frames`` every 2 ms, wall clock, idle waits left out)
  and cProfile of the main thread (the event loop) in CPU time. It is separate from the measured runs so that the
  profilers (cProfile costs ~2x on Python-heavy code) do not disturb the measured numbers.

Exact command of the numbers reported in the README (about 8 minutes on the 2-core machine):

    .venv/bin/python bench/ingest.py --events 500000 --clients 8 --profile --without-worker
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import gzip
import json
import os
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from serve import Server, free_port

BATCH = 100
WARM_UP = 20  # requests sent to a profiled server before its profilers start
C360_EXE = Path(sys.executable).with_name("c360")


# --- the request bodies -------------------------------------------------------------------------------------------
def demo_messages(count: int, seed: int) -> Iterator[dict[str, Any]]:
    """``count`` demo messages with unique messageIds (the demo is repeated with new seeds if it runs short)."""
    from c360.demo import GeneratorConfig, iter_events

    produced = 0
    round_ = 0
    while produced < count:
        config = GeneratorConfig(customers=max(200, count // 50), days=365, seed=seed + round_)
        for message in iter_events(config):
            if round_:
                message = {**message, "messageId": f"{message['messageId']}-{round_}"}
            yield message
            produced += 1
            if produced == count:
                return
        round_ += 1


def build_bodies(count: int, seed: int) -> tuple[list[bytes], int]:
    """Gzipped /v1/batch bodies of BATCH events each; and the total size of their JSON."""
    import orjson

    bodies: list[bytes] = []
    raw = 0
    batch: list[dict[str, Any]] = []
    for message in demo_messages(count, seed):
        batch.append(message)
        if len(batch) == BATCH:
            data = orjson.dumps({"batch": batch})
            raw += len(data)
            bodies.append(gzip.compress(data, compresslevel=6))
            batch = []
    if batch:
        data = orjson.dumps({"batch": batch})
        raw += len(data)
        bodies.append(gzip.compress(data, compresslevel=6))
    return bodies, raw


# --- a workspace and a server ------------------------------------------------------------------------------------
def new_workspace(root: Path, name: str) -> tuple[Path, str]:
    from c360.services.keys import add_source
    from c360.workspace import Workspace

    path = root / name
    with Workspace.init(path) as ws:
        key = add_source(ws.store, "bench")
    return path, key


def server_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("C360_")}


def start_server(
    workspace: Path, log_dir: Path, *, sampled_to: Path | None = None, without_worker: bool = False
) -> Server:
    """`c360 serve` on a free port. ``sampled_to``/``without_worker`` run the same entry point through this file's
    wrapper (a sampler thread; the background worker disabled)."""
    port = free_port()
    args = ["serve", "--workspace", str(workspace), "--port", str(port)]
    if sampled_to or without_worker:
        wrapper = [sys.executable, __file__, "--serve-wrapped", str(sampled_to or ""), str(int(without_worker))]
        command = [*wrapper, "--", *args]
    else:
        command = [str(C360_EXE), *args]
    return Server(command, port=port, env=server_env(), log_path=log_dir / f"server-{port}.log")


def run_load(base: str, key: str, bodies: list[bytes], clients: int) -> tuple[float, list[float], Counter[int]]:
    """Send every body once from ``clients`` threads; (wall seconds, request latencies, answers by status)."""
    import httpx

    headers = {
        "Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode(),
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
    }
    latencies: list[list[float]] = [[] for _ in range(clients)]
    statuses: list[Counter[int]] = [Counter() for _ in range(clients)]
    ready = threading.Barrier(clients + 1)

    def client(index: int) -> None:
        share = bodies[index::clients]
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        with httpx.Client(base_url=base, headers=headers, timeout=120, limits=limits) as http:
            http.get("/healthz")  # connect before the clock starts
            ready.wait()
            mine, seen = latencies[index], statuses[index]
            for body in share:
                started = time.perf_counter()
                response = http.post("/v1/batch", content=body)
                mine.append(time.perf_counter() - started)
                seen[response.status_code] += 1
                if response.status_code != 200:
                    print(f"  client {index}: {response.status_code} {response.text[:200]}", file=sys.stderr)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    ready.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return wall, [x for mine in latencies for x in mine], sum(statuses, Counter())


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- the ceiling -------------------------------------------------------------------------------------------------
def run_ceiling(workspace: Path, bodies: list[bytes], threads: int) -> tuple[float, int]:
    """The server's work for each body without HTTP, from ``threads`` threads; (wall seconds, events appended)."""
    from c360.collect.batch import messages_of
    from c360.collect.body import inflate, parse_json_object
    from c360.collect.service import Collector
    from c360.settings import load_settings
    from c360.workspace import Workspace

    settings = load_settings(workspace=workspace)
    appended = [0] * threads
    with Workspace.open(settings) as ws:
        collector = Collector(ws)
        ws.log  # noqa: B018 - open it before the clock starts
        ready = threading.Barrier(threads + 1)

        def worker(index: int) -> None:
            ready.wait()
            for body in bodies[index::threads]:
                data = inflate(body, "gzip", settings.max_request_bytes)
                messages = messages_of(parse_json_object(data), "batch", max_events=settings.max_batch_events)
                received_at = dt.datetime.now(dt.UTC)
                records, rejects = collector.prepare(
                    messages, source="bench", received_at=received_at, client_ip="127.0.0.1"
                )
                assert not rejects, rejects[0].reason
                appended[index] += ws.log.append(records).count

        workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
        for thread in workers:
            thread.start()
        ready.wait()
        started = time.perf_counter()
        for thread in workers:
            thread.join()
        return time.perf_counter() - started, sum(appended)


# --- the sampler, inside the server process -----------------------------------------------------------------------
IDLE_LEAVES = {
    "select",  # the event loop waiting for sockets
    "wait",  # threading.Condition / Event
    "_wait_for_tstate_lock",
    "_worker",  # an idle asyncio.to_thread worker waiting for work
    "get",  # queue.get
    "acquire",
}
# Frames that every thread or every request shares: left out of the "on the stack" lists.
SHARED_FRAMES = (
    "threading.py:",
    "asyncio/runners.py",
    "base_events.py:run_",
    "base_events.py:_run_once",
    "asyncio/events.py:_run",
    "uvicorn/main.py",
    "uvicorn/server.py",
    "uvicorn/_compat.py",
    "typer/",
    "c360/cli/main.py",
    "bench/ingest.py",
    "contextlib.py",
)


def _thread_label(name: str) -> str:
    if name.startswith("asyncio_"):
        return "asyncio.to_thread pool"
    if name.startswith("AnyIO worker"):
        return "AnyIO worker threads"
    return name


def serve_wrapped(out: Path | None, without_worker: bool, argv: list[str]) -> None:
    """Run `c360 serve` (the real entry point) with profilers, which SIGUSR1 starts and SIGUSR2 stops (writing
    their results to ``out``): a sampler of every thread's Python stack (``sys._current_frames`` every 2 ms, wall
    clock), each thread's CPU seconds, and cProfile of the main thread (the event loop, where every request is
    handled but for the log's write). ``without_worker``: the background worker (event processor, compaction) is
    not started."""
    import cProfile
    import gc
    import pstats

    from c360.cli.main import main

    if without_worker:
        from c360.services.worker import BackgroundWorker, WorkerProcess

        BackgroundWorker.start = BackgroundWorker.stop = lambda self: None  # type: ignore[method-assign]
        WorkerProcess.start = WorkerProcess.stop = lambda self: None  # type: ignore[method-assign]
    sys.argv = ["c360", *argv]
    if out is None:
        main()
        return

    sampler_ident: list[int] = []
    on = threading.Event()
    self_counts: Counter[tuple[str, str]] = Counter()
    stack_counts: Counter[tuple[str, str]] = Counter()
    busy: Counter[str] = Counter()
    idle: Counter[str] = Counter()
    cpu_at_start: dict[int, tuple[str, float]] = {}
    profiler = cProfile.Profile(time.thread_time)  # CPU time: the 2 cores are shared with the clients
    gc_runs: Counter[int] = Counter()
    gc_seconds: dict[int, float] = {}
    gc_started: list[float] = [0.0]

    def gc_timer(phase: str, info: dict[str, int]) -> None:
        if not on.is_set():
            return
        if phase == "start":
            gc_started[0] = time.perf_counter()
        else:
            gc_runs[info["generation"]] += 1
            generation = info["generation"]
            gc_seconds[generation] = gc_seconds.get(generation, 0.0) + time.perf_counter() - gc_started[0]

    def thread_cpu() -> dict[int, tuple[str, float]]:
        cpu = {}
        for thread in threading.enumerate():
            if thread.ident is None or thread.ident in sampler_ident:
                continue
            with contextlib.suppress(OSError, ProcessLookupError):  # a thread that ended meanwhile
                cpu[thread.ident] = (thread.name, time.clock_gettime(time.pthread_getcpuclockid(thread.ident)))
        return cpu

    def where_file(path: str) -> str:
        for marker in ("site-packages/", "src/", "lib/python3.11/", "lib/python3"):
            if marker in path:
                return path.split(marker, 1)[1]
        return path

    def where(code: Any) -> str:
        return f"{where_file(code.co_filename)}:{code.co_name}"

    def sample() -> None:
        sampler_ident.append(threading.get_ident())
        while True:
            on.wait()
            names = {t.ident: t.name for t in threading.enumerate()}
            for ident, frame in sys._current_frames().items():
                if ident == sampler_ident[0]:
                    continue
                label = _thread_label(names.get(ident, "?"))
                if frame.f_code.co_name in IDLE_LEAVES:
                    idle[label] += 1
                    continue
                busy[label] += 1
                self_counts[label, where(frame.f_code)] += 1
                seen = set()
                node: Any = frame
                while node is not None:
                    key = where(node.f_code)
                    if key not in seen:
                        seen.add(key)
                        stack_counts[label, key] += 1
                    node = node.f_back
            time.sleep(0.002)  # the sampling interval

    def start(_signum: int, _frame: Any) -> None:
        cpu_at_start.clear()
        cpu_at_start.update(thread_cpu())
        on.set()
        profiler.enable()  # signal handlers run in the main thread: this profiles the event loop

    def stop(_signum: int, _frame: Any) -> None:
        profiler.disable()
        on.clear()
        per_thread: dict[str, float] = {}
        for ident, (name, seconds) in thread_cpu().items():
            label = _thread_label(name)
            per_thread[label] = per_thread.get(label, 0.0) + seconds - cpu_at_start.get(ident, (name, 0.0))[1]
        stats = pstats.Stats(profiler)
        functions = [
            (f"{where_file(file)}:{line}:{function}", calls, tottime, cumtime)
            for (file, line, function), (_cc, calls, tottime, cumtime, _callers) in stats.stats.items()  # type: ignore[attr-defined]
        ]
        result = {
            "cpu": dict(per_thread),
            "gc": {str(g): [gc_runs[g], gc_seconds.get(g, 0.0)] for g in sorted(gc_runs)},
            "gc_objects": len(gc.get_objects()),
            "busy": dict(busy),
            "idle": dict(idle),
            "self": [[t, k, n] for (t, k), n in self_counts.most_common(200)],
            "stack": [[t, k, n] for (t, k), n in stack_counts.most_common(600)],
            "cprofile": sorted(functions, key=lambda f: -f[2])[:60],
            "cprofile_cum": sorted(functions, key=lambda f: -f[3])[:150],
        }
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps(result))
        os.replace(tmp, out)

    gc.callbacks.append(gc_timer)
    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)
    threading.Thread(target=sample, name="bench-sampler", daemon=True).start()
    main()


def print_profile(path: Path, events: int, wall: float) -> None:
    data = json.loads(path.read_text())
    cpu = data["cpu"]
    print(f"server CPU while loaded: {sum(cpu.values()):.2f} s for {events:,} events in {wall:.2f} s "
          f"({sum(cpu.values()) / events * 1e6:.0f} us of CPU per event), by thread:")  # fmt: skip
    for name, seconds in sorted(cpu.items(), key=lambda item: -item[1]):
        if seconds >= 0.01:
            print(f"  {name:<24} {seconds:6.2f} s CPU = {seconds / events * 1e6:5.1f} us/event, "
                  f"{seconds / wall:4.0%} of a core")  # fmt: skip
    gc_line = ", ".join(f"gen{g}: {n:,} runs {sec:.2f} s" for g, (n, sec) in data["gc"].items())
    print(f"garbage collector while loaded: {gc_line} ({data['gc_objects']:,} tracked objects at the end)")
    print("samples of each busy thread (wall clock, 2 ms; 'self' = innermost Python frame, with the C it calls):")
    for thread, n in sorted(data["busy"].items(), key=lambda item: -item[1]):
        if n < 10:
            continue
        total = n + data["idle"].get(thread, 0)
        print(f"  {thread}: busy in {n / total:.0%} of {total:,} samples")
        selfs = [(k, c) for t, k, c in data["self"] if t == thread][:6]
        print("    self:  " + "; ".join(f"{c / n:.0%} {k}" for k, c in selfs))
        stacks = [(k, c) for t, k, c in data["stack"] if t == thread and not any(p in k for p in SHARED_FRAMES)]
        print("    stack: " + "; ".join(f"{c / n:.0%} {k}" for k, c in stacks[:14]))
    main_cpu = cpu.get("MainThread", 0.0)
    profiled = sum(f[2] for f in data["cprofile"])
    print(f"cProfile of the main thread (the event loop), in CPU seconds (its overhead inflates Python-heavy code), "
          f"top by own time, of {main_cpu:.2f} s CPU:")  # fmt: skip
    for name, calls, tottime, cumtime in data["cprofile"][:22]:
        print(f"  {tottime:6.3f} s own {cumtime:6.3f} s cum {calls:>9,} calls  {name}")
    print("  cumulative, c360 and the request path:")
    for name, calls, tottime, cumtime in data["cprofile_cum"]:
        on_path = any(p in name for p in ("c360/", "h11_impl", "fastapi/routing.py", "starlette/routing"))
        if on_path and cumtime >= 0.02 * max(profiled, 1e-9):
            print(f"  {cumtime:6.3f} s cum {tottime:6.3f} s own {calls:>9,} calls  {name}")


# --- main --------------------------------------------------------------------------------------------------------
def measure_server(root: Path, label: str, bodies: list[bytes], events: int, clients: int, **options: Any) -> float:
    """One server run on a fresh workspace; prints its numbers and returns events/s."""
    from c360.eventlog import EventLog
    from c360.settings import load_settings

    workspace, key = new_workspace(root, label)
    server = start_server(workspace, root, **options)
    try:
        cpu_before, client_cpu_before = server.cpu_seconds(), time.process_time()
        wall, latencies, statuses = run_load(server.base, key, bodies, clients)
        server_cpu, client_cpu = server.cpu_seconds() - cpu_before, time.process_time() - client_cpu_before
    finally:
        server.stop()
    log = EventLog.open(load_settings(workspace=workspace).resolved_log_url)
    stored = log.count()
    log.close()
    rate = events / wall
    print(f"{label + ':':<9}{rate:>9,.0f} events/s  ({events:,} events in {wall:.2f} s, {clients} clients, "
          f"answers {dict(statuses)}, {stored:,} in the log)")  # fmt: skip
    print(f"  latency: p50 {percentile(latencies, 0.50) * 1e3:.1f} ms, p99 {percentile(latencies, 0.99) * 1e3:.1f} ms"
          f" per request of {BATCH} events")  # fmt: skip
    print(f"  cpu:     server {server_cpu:.1f} s ({server_cpu / wall:.0%} of a core, "
          f"{server_cpu / events * 1e6:.0f} us/event), clients {client_cpu:.1f} s ({client_cpu / wall:.0%} of a core), "
          f"{os.cpu_count()} cores")  # fmt: skip
    assert stored == events, f"the log holds {stored:,} events, not {events:,}"
    return rate


def profile_server(root: Path, label: str, bodies: list[bytes], clients: int, *, without_worker: bool) -> None:
    workspace, key = new_workspace(root, label)
    out = root / f"{label}.json"
    server = start_server(workspace, root, sampled_to=out, without_worker=without_worker)
    try:
        warm_up, bodies = bodies[:WARM_UP], bodies[WARM_UP:]
        run_load(server.base, key, warm_up, clients)  # first requests: imports, ua-parser's regexes, connections
        server.signal(signal.SIGUSR1)
        wall, _, _ = run_load(server.base, key, bodies, clients)
        server.signal(signal.SIGUSR2)
        for _ in range(200):  # the handler runs between two bytecodes of the server's main thread: 10 s at most
            if out.exists():
                break
            time.sleep(0.05)
    finally:
        server.stop()
    events = len(bodies) * BATCH
    print(f"\n{label}: {events:,} events at {events / wall:,.0f} events/s (sampled)")
    print_profile(out, events, wall)


def main() -> None:
    if len(sys.argv) > 4 and sys.argv[1] == "--serve-wrapped":
        serve_wrapped(Path(sys.argv[2]) if sys.argv[2] else None, sys.argv[3] == "1", sys.argv[5:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=500_000)
    parser.add_argument("--clients", type=int, default=8, help="concurrent client threads (and ceiling threads)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--profile", action="store_true", help="a second, sampled server run: where time goes")
    parser.add_argument("--profile-events", type=int, default=0, help="events of the sampled run (default N/5)")
    parser.add_argument(
        "--without-worker",
        action="store_true",
        help="also measure (and profile) a server whose background worker is disabled: what the worker costs",
    )
    args = parser.parse_args()

    started = time.perf_counter()
    bodies, raw = build_bodies(args.events, args.seed)
    zipped = sum(len(b) for b in bodies)
    print(f"bodies:  {args.events:,} demo events in {len(bodies):,} requests of {BATCH}, "
          f"{raw / args.events:,.0f} B/event of JSON, {raw / zipped:.1f}x gzip, "
          f"built in {time.perf_counter() - started:.1f} s (not timed)")  # fmt: skip

    with tempfile.TemporaryDirectory(prefix="c360-bench-ingest-") as folder:
        root = Path(folder)
        rate = measure_server(root, "server", bodies, args.events, args.clients)
        ceiling_ws, _ = new_workspace(root, "ceiling")
        ceiling_wall, appended = run_ceiling(ceiling_ws, bodies, args.clients)
        assert appended == args.events, appended
        ceiling = appended / ceiling_wall
        print(f"ceiling: {ceiling:>9,.0f} events/s  (the same bodies without HTTP, {args.clients} threads, "
              f"{ceiling_wall:.2f} s)")  # fmt: skip
        print(f"ratio:   server / ceiling = {rate / ceiling:.0%}  "
              f"(goals: >= 50,000 events/s: {'met' if rate >= 50_000 else f'missed by {1 - rate / 50_000:.0%}'}; "
              f">= 50 % of the ceiling: {'met' if rate >= ceiling / 2 else 'missed'})")  # fmt: skip
        if args.without_worker:
            bare = measure_server(root, "no-worker", bodies, args.events, args.clients, without_worker=True)
            print(f"  without the background worker: {bare / ceiling:.0%} of the ceiling, {bare / rate:.1f}x the "
                  f"server as deployed")  # fmt: skip

        if args.profile:
            count = args.profile_events or max(BATCH, args.events // 5)
            sample = bodies[: WARM_UP + -(-count // BATCH)]
            profile_server(root, "profile-as-deployed", sample, args.clients, without_worker=False)
            if args.without_worker:
                profile_server(root, "profile-no-worker", sample, args.clients, without_worker=True)


if __name__ == "__main__":
    main()
