"""The page at `/`: Vietnamese by default, English on request, numbers grouped the way each language does."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from c360.services.ingest import append_messages
from c360.services.status import processor_for
from c360.workspace import Workspace
from tests.api.conftest import TestClient, client_for
from tests.cli.support import RECEIVED_AT, SETTING_ENV_VARS, expected_counts, make_messages

MESSAGES = make_messages(1_234, users=25, seed=5)
BY_TYPE, USERS = expected_counts(MESSAGES)


@pytest.fixture(scope="module")
def busy_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with 1,234 events, all applied, and 1,234 more waiting (built once for the module)."""
    path = tmp_path_factory.mktemp("pages") / "busy"
    with pytest.MonkeyPatch.context() as patch:  # the function-scoped env cleaning runs too late for this one
        for name in SETTING_ENV_VARS:
            patch.delenv(name, raising=False)
        ws = Workspace.init(path)
    with ws:
        append_messages(ws.log, MESSAGES, source="web", received_at=lambda: RECEIVED_AT)
        processor_for(ws).run_until_idle()
        append_messages(ws.log, make_messages(1_234, seed=6), source="web", received_at=lambda: RECEIVED_AT)
    return path


@pytest.fixture(scope="module")
def busy(busy_ws: Path) -> Iterator[TestClient]:
    with pytest.MonkeyPatch.context() as patch:
        for name in SETTING_ENV_VARS:
            patch.delenv(name, raising=False)
        with client_for(busy_ws) as client:
            yield client


def _card(html: str, metric: str) -> str:
    found = re.search(rf'data-metric="{metric}">\s*<div class="label">[^<]*</div>\s*<div class="value">([^<]*)<', html)
    assert found, metric
    return found.group(1)


def test_vietnamese_by_default(busy: TestClient) -> None:
    response = busy.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert '<html lang="vi">' in html
    assert "Tổng quan dữ liệu khách hàng" in html
    assert "Sự kiện đã nhận" in html
    assert _card(html, "events_accepted") == "2.468"
    assert _card(html, "processor_lag") == "1.234"
    assert _card(html, "profiles") == str(USERS)


@pytest.mark.parametrize(
    ("query", "headers"),
    [
        ("?lang=en", {}),
        ("", {"Accept-Language": "en-US"}),
        ("", {"Accept-Language": "fr-FR,fr;q=0.9,en-GB;q=0.8"}),
        ("?lang=en", {"Accept-Language": "vi-VN"}),
        ("?lang=xx", {"Accept-Language": "en"}),
    ],
)
def test_english_on_request(busy: TestClient, query: str, headers: dict[str, str]) -> None:
    html = busy.get(f"/{query}", headers=headers).text
    assert '<html lang="en">' in html
    assert "Customer data overview" in html
    assert "Tổng quan" not in html
    assert _card(html, "events_accepted") == "2,468"
    assert _card(html, "processor_lag") == "1,234"


@pytest.mark.parametrize(
    ("query", "headers"),
    [("?lang=vi", {"Accept-Language": "en-US"}), ("", {"Accept-Language": "vi-VN,vi;q=0.9"}), ("?lang=", {})],
)
def test_vietnamese_on_request(busy: TestClient, query: str, headers: dict[str, str]) -> None:
    html = busy.get(f"/{query}", headers=headers).text
    assert '<html lang="vi">' in html
    assert _card(html, "events_accepted") == "2.468"


def test_the_events_by_type_table(busy: TestClient) -> None:
    html = busy.get("/?lang=en").text
    rows = dict(re.findall(r'<tr><td>(\w+)</td><td class="num">([\d,]+)</td></tr>', html))
    assert rows == {kind: f"{count:,}" for kind, count in BY_TYPE.items()}
    assert "No events yet" not in html


def test_an_empty_workspace_says_so(client: TestClient) -> None:
    html = client.get("/?lang=en").text
    assert "No events yet" in html
    assert _card(html, "events_accepted") == "0"


def test_the_workspace_language_setting_is_the_default(tmp_path: Path) -> None:
    Workspace.init(tmp_path / "en-shop", language="en").close()
    with client_for(tmp_path / "en-shop") as client:
        assert '<html lang="en">' in client.get("/").text
        assert '<html lang="vi">' in client.get("/", headers={"Accept-Language": "vi"}).text


def test_text_is_escaped(tmp_path: Path) -> None:
    path = tmp_path / 'shop<img src=x onerror="alert(1)">&co'
    Workspace.init(path).close()
    with client_for(path) as client:
        html = client.get("/").text
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;&amp;co" in html


def test_the_stylesheet_is_served(busy: TestClient) -> None:
    html = busy.get("/").text
    href = re.search(r'<link rel="stylesheet" href="([^"]+)"', html)
    assert href
    css = busy.get(href.group(1))
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")


def test_accept_language_quality_values_are_honoured(busy: TestClient) -> None:
    html = busy.get("/", headers={"Accept-Language": "en;q=0.1, vi;q=0.9"}).text
    assert '<html lang="vi">' in html
