"""`c360`: the command line. Each command builds the settings, opens what it needs and calls a service."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from c360.cli import demo as demo_commands
from c360.cli import identity as identity_cli
from c360.cli import importing
from c360.cli import loyalty as loyalty_cli
from c360.cli import profiles as profiles_cli
from c360.cli import review as review_cli
from c360.cli import segments as segments_cli
from c360.cli.common import JsonOpt, WorkspaceOpt, open_workspace, settings_for
from c360.cli.output import err, out, print_json, progress_bar
from c360.errors import C360Error
from c360.settings import DEFAULT_WORKSPACE

app = typer.Typer(
    name="c360",
    help="c360: a Customer Data Platform with a built-in loyalty program.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)
keys_app = typer.Typer(help="API keys for the admin and profile APIs.", no_args_is_help=True)
sources_app = typer.Typer(help="Sources of events and their write keys.", no_args_is_help=True)
jobs_app = typer.Typer(help="Batch jobs over the lake (DuckDB or Spark).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(sources_app, name="sources")
app.add_typer(jobs_app, name="jobs")
app.add_typer(demo_commands.app, name="demo")
app.add_typer(profiles_cli.app, name="profiles")
app.add_typer(importing.export_app, name="export")
importing.export_app.command("identities")(profiles_cli.export_identities)
app.command("resolve")(identity_cli.resolve)
app.add_typer(review_cli.app, name="review")
app.add_typer(loyalty_cli.app, name="loyalty")
app.add_typer(segments_cli.app, name="segments")
app.command("import")(importing.import_file)


@app.command()
def init(
    directory: Annotated[Path | None, typer.Argument(help="Folder to create (default: --workspace).")] = None,
    workspace: WorkspaceOpt = None,
    timezone: Annotated[str | None, typer.Option(help="IANA time zone of the workspace.")] = None,
    store_url: Annotated[str | None, typer.Option(help="Operational store URL (default: SQLite file).")] = None,
    language: Annotated[str | None, typer.Option(help="Default page language: vi or en.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a workspace: settings file, operational store, event log and lake."""
    from c360.workspace import Workspace

    path = directory or workspace or Path(settings_for(None).workspace or DEFAULT_WORKSPACE)
    values = {"timezone": timezone, "store_url": store_url, "language": language}
    ws = Workspace.init(path, **{key: value for key, value in values.items() if value is not None})
    ws.close()
    if as_json:
        print_json({"workspace": str(path)})
    else:
        out.print(f"Created workspace {path} (settings in {path / 'c360.toml'})")


@app.command()
def status(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Counts of events, profiles and sources, and the processor's lag."""
    from c360.services.status import workspace_status

    with open_workspace(workspace) as ws:
        data = workspace_status(ws)
    if as_json:
        print_json(data)
        return
    from rich.table import Table

    table = Table(title=f"c360 workspace {data['workspace']}", show_header=False)
    events = data["events"]
    for label, value in (
        ("store", data["store"]),
        ("events accepted", events["accepted"]),
        ("events in the log", events["in_log"]),
        ("lake watermark (seq)", events["lake_watermark"]),
        ("lake files", events["lake_files"]),
        ("processor checkpoint", data["processor"]["checkpoint"]),
        ("processor lag", data["processor"]["lag"]),
        ("profiles", data["profiles"]),
        ("customers with orders", data["customers_with_orders"]),
        ("sources", data["sources"]),
        ("active API keys", data["api_keys"]),
    ):
        table.add_row(label, f"{value:,}" if isinstance(value, int) else str(value))
    for kind, count in sorted(events["by_type"].items()):
        table.add_row(f"  {kind} events", f"{count:,}")
    out.print(table)


@app.command()
def serve(
    workspace: WorkspaceOpt = None,
    host: Annotated[str | None, typer.Option(help="Address to bind (default: setting `host`).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: setting `port`).")] = None,
    workers: Annotated[
        int | None, typer.Option(help="Server processes sharing the port (default: setting `workers`).")
    ] = None,
) -> None:
    """Serve the API and the web pages of a workspace."""
    overrides = {"host": host, "port": port, "workers": workers}
    run_server(settings_for(workspace, **{key: value for key, value in overrides.items() if value is not None}))


def run_server(settings: Any) -> None:
    import uvicorn

    from c360.api import create_app
    from c360.api.served import WORKSPACE_VARIABLE, freeze_startup_objects

    # httptools parses HTTP and uvloop runs the event loop, both in C (uvloop where the platform has it, asyncio
    # elsewhere): a fifth less CPU a request than h11 on asyncio (measured on /healthz: 1.3 -> 1.0 ms). The access
    # log's lines were dropped at level warning anyway; access_log=False no longer makes them.
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": "warning",
        "http": "httptools",
        "loop": "auto",
        "access_log": False,
    }
    out.print(
        f"c360 serving {settings.workspace} at http://{settings.host}:{settings.port}/"
        + (f" ({settings.workers} processes)" if settings.workers > 1 else "")
    )
    if settings.workers == 1:
        app_ = create_app(settings)
        freeze_startup_objects()
        uvicorn.run(app_, **options)
        return
    # Each process imports the app by name and builds it from the same workspace (and the same C360_* variables).
    os.environ[WORKSPACE_VARIABLE] = str(settings.workspace)
    uvicorn.run("c360.api.served:app", factory=True, workers=settings.workers, **options)


@app.command()
def process(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Apply every event in the log that the processor has not applied yet."""
    from c360.services.processing import processor_for

    with open_workspace(workspace) as ws:
        processor = processor_for(ws)
        with progress_bar("Processing events", total=processor.lag()) as bar:
            applied = processor.run_until_idle(progress=bar.advance)
    if as_json:
        print_json({"applied": applied})
    else:
        out.print(f"Applied {applied:,} events")


@app.command()
def compact(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Move the log's events into the Parquet lake (exactly once), prune what is both compacted and applied,
    and forget messageIds older than the dedupe window."""
    from c360.services.compaction import maintain

    with open_workspace(workspace) as ws, progress_bar("Compacting") as bar:
        result = maintain(ws, progress=bar.update)
    data = {
        **result.compaction.__dict__,
        "pruned_from_log": result.pruned_from_log,
        "forgotten_message_ids": result.forgotten_message_ids,
    }
    if as_json:
        print_json(data)
    else:
        out.print(
            f"Compacted {result.compaction.events:,} events into {result.compaction.files} files; "
            f"pruned {result.pruned_from_log:,} from the log"
        )


@keys_app.command("create")
def keys_create(
    scope: Annotated[str, typer.Option(help="admin, write or read.")],
    name: Annotated[str, typer.Option(help="A label for the key.")] = "",
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an API key; it is printed once, only its hash is stored."""
    from c360.services.keys import create_api_key

    with open_workspace(workspace) as ws:
        key, record = create_api_key(ws.store, scope, name=name)
    if as_json:
        print_json({"key": key, "prefix": record.prefix, "scope": record.scope, "name": record.name})
    else:
        out.print(f"{scope} key (shown once, store it now):\n{key}")


@keys_app.command("list")
def keys_list(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """List API keys (prefixes only)."""
    from c360.services.keys import list_api_keys

    with open_workspace(workspace) as ws:
        rows = list_api_keys(ws.store)
    if as_json:
        print_json(rows)
        return
    for row in rows:
        state = "revoked" if row["revoked_at"] else "active"
        out.print(f"{row['prefix']}…  {row['scope']:<6} {state:<8} {row['name']}")


@keys_app.command("revoke")
def keys_revoke(
    prefix: Annotated[str, typer.Argument(help="The key's prefix, as `keys list` shows it.")],
    workspace: WorkspaceOpt = None,
) -> None:
    """Revoke an API key."""
    from c360.services.keys import revoke_api_key

    with open_workspace(workspace) as ws:
        revoke_api_key(ws.store, prefix)
    out.print(f"Revoked {prefix}")


@sources_app.command("add")
def sources_add(
    name: Annotated[str, typer.Argument(help="Source name: letters, digits, '-', '_' or '.'.")],
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a source and print its write key (HTTP basic-auth user of the tracking API)."""
    from c360.services.keys import add_source

    with open_workspace(workspace) as ws:
        key = add_source(ws.store, name)
    if as_json:
        print_json({"source": name, "write_key": key})
    else:
        out.print(f"Source {name} created. Write key (shown once):\n{key}")


@sources_app.command("list")
def sources_list(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """List sources."""
    from c360.services.keys import list_sources

    with open_workspace(workspace) as ws:
        rows = list_sources(ws.store)
    if as_json:
        print_json(rows)
        return
    for row in rows:
        out.print(f"{row['name']}  (since {row['created_at']:%Y-%m-%d})")


@sources_app.command("keys")
def sources_keys(
    name: Annotated[str, typer.Argument(help="Source name.")],
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List a source's write keys (prefixes only)."""
    from c360.services.keys import list_write_keys

    with open_workspace(workspace) as ws:
        rows = list_write_keys(ws.store, name)
    if as_json:
        print_json(rows)
        return
    for row in rows:
        state = f"revoked {row['revoked_at']:%Y-%m-%d}" if row["revoked_at"] else "active"
        out.print(f"{row['prefix']}…  created {row['created_at']:%Y-%m-%d}  {state}")


@sources_app.command("rotate")
def sources_rotate(
    name: Annotated[str, typer.Argument(help="Source name.")],
    revoke_old: Annotated[bool, typer.Option("--revoke-old", help="Revoke the source's other keys now.")] = False,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Make a new write key for a source (old keys keep working unless --revoke-old)."""
    from c360.services.keys import rotate_write_key

    with open_workspace(workspace) as ws:
        key = rotate_write_key(ws.store, name, revoke_old=revoke_old)
    if as_json:
        print_json({"source": name, "write_key": key})
    else:
        out.print(f"New write key of {name} (shown once):\n{key}")


@sources_app.command("revoke-key")
def sources_revoke_key(
    name: Annotated[str, typer.Argument(help="Source name.")],
    prefix: Annotated[str, typer.Argument(help="The key's prefix, as `sources keys` shows it.")],
    workspace: WorkspaceOpt = None,
) -> None:
    """Revoke one write key of a source."""
    from c360.services.keys import revoke_write_key

    with open_workspace(workspace) as ws:
        revoke_write_key(ws.store, name, prefix)
    out.print(f"Revoked {prefix} of {name}")


@jobs_app.command("order-stats")
def jobs_order_stats(
    workspace: WorkspaceOpt = None,
    engine: Annotated[str | None, typer.Option(help="duckdb or spark (default: setting `engine`).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Per customer: order count, total spend, first and last order, from the lake into the store."""
    from c360.services.jobs import run_order_stats

    with open_workspace(workspace, engine=engine) as ws:
        rows = run_order_stats(ws)
    if as_json:
        print_json({"customers": rows, "engine": ws.settings.engine})
    else:
        out.print(f"order stats written for {rows:,} customer-currency pairs ({ws.settings.engine})")


def main() -> None:
    """Entry point: runs the app and turns c360's errors into one message and an exit code."""
    try:
        app()
    except C360Error as exc:
        err.print(f"error: {exc.message}", soft_wrap=True, style="bold red")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
