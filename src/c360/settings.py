"""One typed settings object for a workspace.

Settings come from, highest first: values passed in code (CLI flags), environment variables ``C360_<NAME>``, the
workspace's ``c360.toml``, and the defaults below. Build it in ``main()`` / ``create_app()`` and pass it down; nothing
reads the environment at import time. Every field's ``description`` is its documentation: ``docs/settings.md`` is
generated from this class (``python -m c360.docs``) and a test fails when they differ.
"""

from __future__ import annotations

import tomllib
import zoneinfo
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, InitSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from c360.errors import ConfigError

SETTINGS_FILE = "c360.toml"
DEFAULT_WORKSPACE = Path("c360-data")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="C360_", extra="forbid", validate_default=True)

    workspace: Path = Field(
        default=DEFAULT_WORKSPACE,
        description="The workspace folder that holds everything of the embedded default. "
        "Set with `--workspace` or `C360_WORKSPACE`; not read from c360.toml.",
    )
    timezone: str = Field(
        default="Asia/Ho_Chi_Minh",
        description="The workspace's time zone (IANA name): imported timestamps without a zone are read in it "
        "and calendar rules use it. Storage is always UTC.",
    )
    default_currency: str = Field(
        default="VND",
        description="ISO 4217 currency assumed when an order carries none.",
    )
    language: Literal["vi", "en"] = Field(default="vi", description="Default language of the web pages.")
    store_url: str = Field(
        default="",
        description="SQLAlchemy URL of the operational store. Empty: a SQLite file `store.db` in the "
        "workspace. PostgreSQL: `postgresql+psycopg://user@host:5432/db` (install `c360[postgres]`).",
    )
    log_url: str = Field(
        default="",
        description="SQLAlchemy URL of the append-only event log. Empty: a SQLite file `log.db` in the "
        "workspace (WAL, fsync on every commit).",
    )
    store_busy_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="SQLite stores: how long a transaction waits for another's write lock (a large `c360 resolve` "
        "holds it while it writes) before it fails with `store_busy` (HTTP 503 with Retry-After).",
    )
    lake_dir: Path = Field(
        default=Path("lake"),
        description="Folder of the Parquet lake, relative to the workspace unless absolute.",
    )
    engine: Literal["duckdb", "spark"] = Field(
        default="duckdb", description="Batch engine: `duckdb` (default) or `spark` (install `c360[spark]`)."
    )
    duckdb_threads: int = Field(default=2, ge=1, description="Threads DuckDB may use.")
    duckdb_memory_limit: str = Field(
        default="2GB",
        description="DuckDB's memory limit (e.g. `4GB`); beyond it, DuckDB spills to a temporary folder. 2GB keeps a "
        "resolve of a million records under 3 GB in all.",
    )
    spark_master: str = Field(default="local[2]", description="Spark master URL for the `spark` engine.")
    log_max_batch_events: int = Field(
        default=20_000,
        ge=1,
        description="Group commit: the most events one durable write of the log takes at once.",
    )
    log_queue_depth: int = Field(
        default=100_000,
        ge=1,
        description="Events that may wait for the log writer; past it appends are refused as overload.",
    )
    dedupe_window_days: int = Field(
        default=30,
        ge=1,
        description="Days a (source, messageId) is remembered: a repeat within them is acknowledged but not stored.",
    )
    max_event_bytes: int = Field(
        default=32 * 1024, ge=256, description="Tracking API: the largest event, in bytes of JSON after decompression."
    )
    max_request_bytes: int = Field(
        default=4 * 1024 * 1024 + 64 * 1024,
        ge=1024,
        description="Tracking API: the largest request body, after decompression (a larger one, or a gzip body "
        "that inflates past it, is a 400). 4 MB plus room for the event with which the RudderStack SDK "
        "crosses its own 4 MB batch size.",
    )
    max_batch_events: int = Field(default=2_500, ge=1, description="Tracking API: the most events in one batch.")
    write_key_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        description="How long the tracking API trusts a write key it has looked up; a revoked key stops working "
        "within this time.",
    )
    compaction_batch_events: int = Field(
        default=200_000, ge=1, description="Events compacted from the log into the lake per Parquet file set."
    )
    processor_batch_events: int = Field(
        default=1_000,
        ge=1,
        description="Events the processor applies in one transaction (its checkpoint commits with them).",
    )
    identity_gmail_rules: bool = Field(
        default=True,
        description="Identity: Gmail addresses ignore dots and `+tags` in the local part (as Gmail does).",
    )
    identity_blocked_values: list[str] = Field(
        default=["test@test.com", "a@a.com", "test@example.com", "noemail@gmail.com"],
        description="Identity: values that never join anything, besides the built-in ones (`null`, `0`, ...); "
        "add the shop's own phone numbers here.",
    )
    identity_fanout_k: int = Field(
        default=3,
        ge=1,
        description="Identity: a value on more than this many records with clearly different names is held "
        "back from joining and sent to review.",
    )
    identity_source_priority: list[str] = Field(
        default=[],
        description="Identity: sources whose traits win on the profile, strongest first; other sources follow, "
        "and within a source the most recent value wins.",
    )
    identity_matching: bool = Field(
        default=True,
        description="Identity: `c360 resolve` also matches records that share no identifier (Splink); off, it "
        "builds the deterministic graph only.",
    )
    match_threshold_upper: float = Field(
        default=0.95,
        gt=0,
        lt=1,
        description="Probabilistic matching: pairs at or above this match probability are merged.",
    )
    match_threshold_lower: float = Field(
        default=0.80,
        gt=0,
        lt=1,
        description="Probabilistic matching: pairs from here up to the upper threshold go to the review queue.",
    )
    match_max_pairs: int = Field(
        default=1_000_000,
        ge=1_000,
        description="Probabilistic matching: record pairs each round of EM trains m on, at most.",
    )
    match_u_pairs: int = Field(
        default=250_000,
        ge=1_000,
        description="Probabilistic matching: random record pairs whose comparisons estimate u.",
    )
    resolve_workers: int = Field(
        default=1,
        ge=0,
        description="`c360 resolve`: worker processes that assemble the profiles of a large resolve while it writes "
        "the graph (0: none, it assembles them afterwards; more pay where there are more than two cores).",
    )
    loyalty_lot_order: Literal["soonest_expiring", "oldest_first"] = Field(
        default="soonest_expiring",
        description="Loyalty: which earned points a redemption spends first: the soonest to expire, or the oldest.",
    )
    host: str = Field(default="127.0.0.1", description="Address `c360 serve` binds to.")
    port: int = Field(default=8360, ge=1, le=65535, description="Port `c360 serve` listens on.")
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Server processes of `c360 serve` sharing its port: one Python process serves about one core; "
        "one of them starts the background event processing.",
    )

    background_process: bool = Field(
        default=True,
        description="`c360 serve` applies new events and compacts the log in a process of its own (true: it uses "
        "a core of its own) or in a thread of the API's process (false: one process, sharing its core).",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Asia/Ho_Chi_Minh)") from None
        return value

    @model_validator(mode="after")
    def _thresholds_in_order(self) -> Settings:
        if self.match_threshold_lower > self.match_threshold_upper:
            raise ValueError(
                f"match_threshold_lower ({self.match_threshold_lower}) must not be above match_threshold_upper "
                f"({self.match_threshold_upper})"
            )
        return self

    @field_validator("default_currency")
    @classmethod
    def _currency_code(cls, value: str) -> str:
        if len(value) != 3 or not value.isalpha():
            raise ValueError(f"{value!r} is not an ISO 4217 code such as VND")
        return value.upper()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _WorkspaceToml(settings_cls, init_settings, env_settings))

    # Derived locations: one place decides where each store lives.
    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    @property
    def settings_file(self) -> Path:
        return self.workspace / SETTINGS_FILE

    @property
    def lake_path(self) -> Path:
        return self.lake_dir if self.lake_dir.is_absolute() else self.workspace / self.lake_dir

    @property
    def resolved_store_url(self) -> str:
        return self.store_url or f"sqlite:///{(self.workspace / 'store.db').resolve()}"

    @property
    def resolved_log_url(self) -> str:
        return self.log_url or f"sqlite:///{(self.workspace / 'log.db').resolve()}"


class _WorkspaceToml(PydanticBaseSettingsSource):
    """Reads ``c360.toml`` from the workspace that the higher-priority sources name."""

    def __init__(
        self,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
    ) -> None:
        super().__init__(settings_cls)
        self._init = init_settings
        self._env = env_settings

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        raise NotImplementedError  # __call__ is overridden

    def __call__(self) -> dict[str, Any]:
        workspace = None
        if isinstance(self._init, InitSettingsSource):
            workspace = self._init.init_kwargs.get("workspace")
        if workspace is None:
            workspace = self._env().get("workspace", DEFAULT_WORKSPACE)
        return read_settings_file(Path(workspace) / SETTINGS_FILE)


def read_settings_file(path: Path) -> dict[str, Any]:
    """The settings in a workspace's c360.toml ({} when there is none), with errors that name the file."""
    if not path.exists():
        return {}
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    if "workspace" in values:
        raise ConfigError(f"{path}: `workspace` cannot be set inside the workspace's own settings file")
    return values


def load_settings(**overrides: Any) -> Settings:
    """Build the settings, turning validation errors into one message per bad key."""
    overrides = {key: value for key, value in overrides.items() if value is not None}
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or '?'}: "
            f"{'unknown setting' if error['type'] == 'extra_forbidden' else error['msg']}"
            for error in exc.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from None


def settings_table() -> list[tuple[str, str, str, str]]:
    """(name, environment variable, default, help) for every setting, in declaration order."""
    rows = []
    for name, field in Settings.model_fields.items():
        default = field.default
        shown = str(default) if not isinstance(default, str) or default else "(empty)"
        rows.append((name, f"C360_{name.upper()}", shown, field.description or ""))
    return rows
