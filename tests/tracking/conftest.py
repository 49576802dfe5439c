"""Fixtures of the tracking tests: no C360_<setting> variable of the developer's shell leaks into a test."""

from __future__ import annotations

import pytest

from tests.cli.support import SETTING_ENV_VARS


@pytest.fixture(autouse=True)
def _no_setting_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SETTING_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
