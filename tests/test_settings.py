"""Settings: precedence (c360.toml < C360_* environment < explicit values), validation, documentation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from c360.errors import ConfigError
from c360.settings import DEFAULT_WORKSPACE, Settings, load_settings, settings_table
from tests.cli.support import SETTING_ENV_VARS


@pytest.fixture(autouse=True)
def _no_setting_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SETTING_ENV_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    """A folder with a c360.toml that sets three settings."""
    path = tmp_path / "ws"
    path.mkdir()
    (path / "c360.toml").write_text('timezone = "Europe/Paris"\nport = 9000\nlanguage = "en"\n', encoding="utf-8")
    return path


def test_defaults(tmp_path: Path) -> None:
    settings = load_settings(workspace=tmp_path)
    assert (settings.timezone, settings.port, settings.language, settings.engine) == (
        "Asia/Ho_Chi_Minh",
        8360,
        "vi",
        "duckdb",
    )
    assert load_settings().workspace == DEFAULT_WORKSPACE
    assert settings.resolved_store_url == f"sqlite:///{(tmp_path / 'store.db').resolve()}"
    assert settings.lake_path == tmp_path / "lake"


def test_the_file_is_read(ws: Path) -> None:
    settings = load_settings(workspace=ws)
    assert (settings.timezone, settings.port, settings.language) == ("Europe/Paris", 9000, "en")


def test_the_environment_beats_the_file(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("C360_PORT", "9100")
    monkeypatch.setenv("C360_TIMEZONE", "Asia/Tokyo")
    settings = load_settings(workspace=ws)
    assert (settings.timezone, settings.port, settings.language) == ("Asia/Tokyo", 9100, "en")


def test_explicit_values_beat_the_environment_and_the_file(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("C360_PORT", "9100")
    settings = load_settings(workspace=ws, port=9200, timezone="UTC")
    assert (settings.timezone, settings.port, settings.language) == ("UTC", 9200, "en")


def test_none_means_not_given(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """CLI flags left out arrive as None and must not hide the environment or the file."""
    monkeypatch.setenv("C360_PORT", "9100")
    settings = load_settings(workspace=ws, port=None, host=None)
    assert (settings.port, settings.host) == (9100, "127.0.0.1")


def test_the_workspace_comes_from_the_environment_with_its_file(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("C360_WORKSPACE", str(ws))
    settings = load_settings()
    assert (settings.workspace, settings.port) == (ws, 9000)


def test_an_explicit_workspace_beats_the_environment_one(
    ws: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "c360.toml").write_text("port = 7000\n", encoding="utf-8")
    monkeypatch.setenv("C360_WORKSPACE", str(ws))
    settings = load_settings(workspace=other)
    assert (settings.workspace, settings.port, settings.timezone) == (other, 7000, "Asia/Ho_Chi_Minh")


def test_other_c360_variables_are_not_settings(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The test suite's own C360_TEST_POSTGRES_URL / C360_REQUIRE_SERVICES must not break every command."""
    monkeypatch.setenv("C360_REQUIRE_SERVICES", "1")
    monkeypatch.setenv("C360_SOMETHING_ELSE", "x")
    assert load_settings(workspace=ws).port == 9000


def test_values_are_normalised_and_paths_resolved(tmp_path: Path) -> None:
    settings = load_settings(workspace=tmp_path, default_currency="usd", lake_dir=Path("/data/lake"))
    assert settings.default_currency == "USD"
    assert settings.lake_path == Path("/data/lake")
    assert str(settings.zone) == "Asia/Ho_Chi_Minh"


@pytest.mark.parametrize(
    ("values", "names"),
    [
        ({"timezone": "Mars/Base"}, ["timezone", "Mars/Base"]),
        ({"default_currency": "DONG"}, ["default_currency", "ISO 4217"]),
        ({"port": 0}, ["port"]),
        ({"language": "fr"}, ["language", "'vi' or 'en'"]),
        ({"duckdb_threads": 0}, ["duckdb_threads"]),
        ({"colour": "blue"}, ["colour: unknown setting"]),
    ],
)
def test_bad_values_are_one_error_naming_the_setting(
    tmp_path: Path, values: dict[str, object], names: list[str]
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(workspace=tmp_path, **values)
    assert caught.value.message.startswith("invalid settings: ")
    for name in names:
        assert name in caught.value.message


def test_bad_values_in_the_environment_name_the_setting(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("C360_ENGINE", "oracle")
    with pytest.raises(ConfigError, match="engine"):
        load_settings(workspace=ws)


def test_every_setting_is_documented() -> None:
    for name, field in Settings.model_fields.items():
        assert field.description, f"setting {name!r} has no description"
        assert len(field.description) >= 15, f"setting {name!r}: {field.description!r} explains too little"
    assert [row[0] for row in settings_table()] == list(Settings.model_fields)
    for name, env, _default, help_text in settings_table():
        assert env == f"C360_{name.upper()}"
        assert help_text == Settings.model_fields[name].description


def test_every_setting_can_be_set_in_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The documented variable really is read: set each one to a valid non-default value."""
    values = {
        "timezone": "UTC",
        "default_currency": "USD",
        "language": "en",
        "store_url": "sqlite:///x.db",
        "log_url": "sqlite:///y.db",
        "lake_dir": "/elsewhere/lake",
        "engine": "spark",
        "store_busy_timeout_seconds": "2.5",
        "duckdb_threads": "7",
        "duckdb_memory_limit": "1GB",
        "resolve_workers": "3",
        "spark_master": "local[4]",
        "log_max_batch_events": "11",
        "log_queue_depth": "12",
        "compaction_batch_events": "13",
        "dedupe_window_days": "9",
        "max_event_bytes": "4096",
        "max_request_bytes": "65536",
        "max_batch_events": "99",
        "write_key_cache_seconds": "1.5",
        "processor_batch_events": "14",
        "host": "0.0.0.0",
        "port": "8999",
        "workers": "3",
        "background_process": "False",
        "identity_gmail_rules": "False",
        "identity_blocked_values": '["0281234567", "shop@example.vn"]',
        "identity_fanout_k": "5",
        "identity_source_priority": '["crm", "pos"]',
        "identity_matching": "False",
        "match_threshold_upper": "0.9",
        "match_threshold_lower": "0.7",
        "match_max_pairs": "5000",
        "match_u_pairs": "4000",
        "loyalty_lot_order": "oldest_first",
        "workspace": str(tmp_path),
    }
    assert set(values) == set(Settings.model_fields), "add the new setting to this test"
    for name, value in values.items():
        monkeypatch.setenv(f"C360_{name.upper()}", value)
    settings = load_settings()
    for name, value in values.items():
        got = getattr(settings, name)
        assert (json.dumps(got) if isinstance(got, list) else str(got)) == value, name


def test_new_settings_file_lists_every_setting_and_uncommented_defaults_load(tmp_path: Path) -> None:
    from c360.settings import Settings, read_settings_file
    from c360.workspace import settings_template

    text = settings_template({"timezone": "UTC"})
    for name in Settings.model_fields:
        if name not in ("workspace", "timezone"):
            assert f"# {name} = " in text, name
    uncommented = "\n".join(line[2:] if " = " in line and line.startswith("# ") else line for line in text.splitlines())
    path = tmp_path / "c360.toml"
    path.write_text(uncommented, encoding="utf-8")
    values = read_settings_file(path)
    loaded = Settings(workspace=tmp_path, **values)
    defaults = Settings(workspace=tmp_path, timezone="UTC")
    assert loaded == defaults
