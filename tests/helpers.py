"""Helpers shared by the test suite."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

#: Set by `.ci/run`: a test that needs a server or a runtime (PostgreSQL, Java for Spark) fails instead of
#: skipping when it is absent, so a green CI run proves the whole suite ran.
REQUIRE_ALL_ENV = "C360_REQUIRE_SERVICES"


def skip_or_fail(reason: str) -> NoReturn:
    """Skip with a clear reason on a developer machine; fail in CI where everything must be present."""
    if os.environ.get(REQUIRE_ALL_ENV, "") not in ("", "0"):
        pytest.fail(f"{reason} (and {REQUIRE_ALL_ENV} is set, so this cannot be skipped)", pytrace=False)
    pytest.skip(reason)
