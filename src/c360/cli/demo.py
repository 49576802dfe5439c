"""`c360 demo`: a populated workspace in one command; `c360 demo generate`: the demo data alone."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from c360.cli.common import JsonOpt, WorkspaceOpt, settings_for
from c360.cli.identity import RESOLVE_STEPS
from c360.cli.output import out, print_json, progress_bar

app = typer.Typer(
    help="Build a demo workspace of a Vietnamese omnichannel retailer and serve it.",
    invoke_without_command=True,
)

CustomersOpt = Annotated[int, typer.Option("--customers", "-n", min=1, help="People to generate.")]
DaysOpt = Annotated[int, typer.Option("--days", min=1, help="Days of history, ending on --end-date.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed: the same seed gives the same bytes.")]
EndOpt = Annotated[
    dt.datetime | None, typer.Option("--end-date", formats=["%Y-%m-%d"], help="Last day (default 2026-10-31).")
]


def _config(customers: int, days: int, seed: int, end_date: dt.datetime | None) -> Any:
    from c360.demo import GeneratorConfig

    if end_date is None:
        return GeneratorConfig(customers=customers, days=days, seed=seed)
    return GeneratorConfig(customers=customers, days=days, seed=seed, end_date=end_date.date())


@app.callback()
def demo(
    ctx: typer.Context,
    workspace: WorkspaceOpt = None,
    customers: CustomersOpt = 2_000,
    days: DaysOpt = 365,
    seed: SeedOpt = 42,
    end_date: EndOpt = None,
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve the workspace when it is built.")] = True,
    host: Annotated[str | None, typer.Option(help="Address to bind.")] = None,
    port: Annotated[int | None, typer.Option(help="Port.")] = None,
) -> None:
    """Create (or reuse) a workspace, generate and load demo data, run the batch job, make an admin key, serve."""
    if ctx.invoked_subcommand is not None:
        return
    from c360.cli.main import run_server
    from c360.demo import cached_dataset
    from c360.services.compaction import compact
    from c360.services.identity import resolve
    from c360.services.ingest import append_messages
    from c360.services.jobs import run_order_stats
    from c360.services.keys import add_source, create_api_key, list_sources
    from c360.services.loyalty import Loyalty, program_path, write_example_program
    from c360.services.processing import processor_for
    from c360.services.segments import BUILD_STEPS, write_example_segments
    from c360.services.segments import build as build_segments
    from c360.workspace import Workspace

    settings = settings_for(workspace, host=host, port=port)
    ws = (
        Workspace.open(settings)
        if settings.settings_file.exists()
        else Workspace.init(settings.workspace, identity_blocked_values=demo_blocked_values())
    )
    try:
        if ws.log.max_seq() == 0:
            cfg = _config(customers, days, seed, end_date)
            with progress_bar("Generating demo data") as bar:
                data_dir = cached_dataset(cfg.customers, cfg.days, cfg.seed, progress=bar.update, end_date=cfg.end_date)
            known = {row["name"] for row in list_sources(ws.store)}
            write_keys = {name: add_source(ws.store, name) for name in ("web", "app") if name not in known}
            with progress_bar("Loading events") as bar:
                for source, messages in _events_by_source(data_dir / "events.jsonl"):
                    append_messages(ws.log, messages, source=source, progress=bar.advance, replay=True)
            imported = _import_demo_csvs(ws, data_dir)
            write_example_program(ws)  # before processing, so that the orders earn points
            processor = processor_for(ws)
            with progress_bar("Processing events", total=processor.lag()) as bar:
                processor.run_until_idle(progress=bar.advance)
            with progress_bar("Compacting into the lake") as bar:
                compact(ws.log, ws.lake, batch_events=settings.compaction_batch_events, progress=bar.update)
            customers_done = run_order_stats(ws)
            with progress_bar("Resolving identities", total=RESOLVE_STEPS) as bar:
                resolved = resolve(ws, progress=bar.step)
            loyalty = Loyalty.for_workspace(ws)
            loyalty.follow_identity()
            members = _count_members(ws)
            with progress_bar("Loyalty: activation, expiry, tiers", total=members) as bar:
                schedule = loyalty.run_schedule(progress=bar.advance)
            write_example_segments(ws)
            with progress_bar("Segments: computed traits, RFM, segments", total=BUILD_STEPS) as bar:
                # As of the end of the demo's last day, so that "in the last 30 days" means its last 30 days.
                as_of = dt.datetime.combine(cfg.end_date, dt.time(23, 59), settings.zone).astimezone(dt.UTC)
                built = build_segments(ws, as_of=as_of, progress=bar.step)
            out.print(f"Demo data: {data_dir}  ·  order stats for {customers_done:,} customers")
            out.print(f"Identity: {resolved.graph.nodes:,} identifiers in {resolved.profiles:,} profiles")
            out.print(
                f"Loyalty: {schedule['members']:,} members; {schedule['activated']:,} points activated, "
                f"{schedule['expired']:,} expired (program: {program_path(ws).name})"
            )
            sizes = ", ".join(f"{name} {n['members']:,}" for name, n in built.segments.items()
                              if not name.startswith("rfm_"))  # fmt: skip
            out.print(f"Segments: {sizes}")
            for name, result in imported.items():
                out.print(f"Imported {name}: {result.accepted:,} rows accepted, {result.rejected:,} rejected")
            for name, key in write_keys.items():
                out.print(f"Write key of source {name} (shown once): {key}")
        else:
            out.print(f"Workspace {settings.workspace} already holds events; serving it as it is.")
        key, _record = create_api_key(ws.store, "admin", name="demo admin")
        out.print(f"Admin API key (shown once, only its hash is stored):\n{key}")
    finally:
        ws.close()
    if serve:
        run_server(settings)


def _count_members(ws: Any) -> int:
    from sqlalchemy import func, select

    from c360.store.schema import loyalty_members

    with ws.store.read() as conn:
        return int(conn.execute(select(func.count()).select_from(loyalty_members)).scalar_one())


def demo_blocked_values() -> list[str]:
    """The default blocked values plus the shop's own numbers: its stores' hotlines, which cashiers type for
    walk-ins (a real shop lists its numbers the same way)."""
    from c360.demo.stores import STORES
    from c360.settings import Settings

    defaults: list[str] = Settings.model_fields["identity_blocked_values"].default
    return [*defaults, *(store.hotline for store in STORES)]


def _import_demo_csvs(ws: Any, data_dir: Path) -> dict[str, Any]:
    """The demo's CSV sources (POS, CRM, email platform, tickets, surveys) through the bulk importer, with the
    mappings shipped in ``c360/demo/mappings`` — the same path a retailer's own exports take."""
    from c360.demo import MAPPINGS_DIR
    from c360.importer import import_file, load_mapping

    results = {}
    for mapping_file in sorted(MAPPINGS_DIR.glob("*.yml")):
        csv_file = data_dir / f"{mapping_file.stem}.csv"
        size = csv_file.stat().st_size
        with progress_bar(f"Importing {csv_file.name}", total=size) as bar:

            def show(done: int, _rows: int, bar: Any = bar, size: int = size) -> None:
                bar.update(done, size)

            results[csv_file.name] = import_file(
                csv_file,
                load_mapping(mapping_file),
                store=ws.store,
                log=ws.log,
                timezone=ws.settings.timezone,
                default_currency=ws.settings.default_currency,
                progress=show,
            )
    return results


def _events_by_source(path: Path, chunk: int = 5_000) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """The generated events in chunks of one source each (app events carry ``context.app``)."""
    buffers: dict[str, list[dict[str, Any]]] = {"web": [], "app": []}
    with path.open("rb") as handle:
        for line in handle:
            message = orjson.loads(line)
            context = message.get("context")
            source = "app" if isinstance(context, dict) and context.get("app") else "web"
            buffer = buffers[source]
            buffer.append(message)
            if len(buffer) >= chunk:
                yield source, buffer
                buffers[source] = []
    for source, buffer in buffers.items():
        if buffer:
            yield source, buffer


@app.command("generate")
def generate(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the files into.")],
    customers: CustomersOpt = 2_000,
    days: DaysOpt = 365,
    seed: SeedOpt = 42,
    end_date: EndOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write the demo data set (events, POS, CRM, email, tickets, surveys, catalogue, ground truth)."""
    from c360.demo import generate_to_dir

    with progress_bar("Generating") as bar:
        summary = generate_to_dir(_config(customers, days, seed, end_date), out_dir, progress=bar.update)
    if as_json:
        print_json({"out": str(out_dir), "files": summary})
    else:
        out.print(f"Wrote {out_dir}:")
        for name, count in summary.items():
            out.print(f"  {name}: {count:,}" if isinstance(count, int) else f"  {name}: {count}")
