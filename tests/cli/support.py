"""Helpers shared by the CLI, API and server tests: the `c360` executable, a clean environment, test events."""

from __future__ import annotations

import datetime as dt
import os
import random
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from c360.settings import Settings

#: The installed entry point (the `c360` script next to the interpreter running the tests).
C360_EXE = Path(sys.executable).with_name("c360")

#: The environment variables that would change a setting (C360_<NAME>); tests start without them.
SETTING_ENV_VARS = tuple(f"C360_{name.upper()}" for name in Settings.model_fields)

RECEIVED_AT = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)


def clean_env(**extra: str) -> dict[str, str]:
    """The current environment without any C360_<setting> variable, plus ``extra``."""
    env = {key: value for key, value in os.environ.items() if key not in SETTING_ENV_VARS}
    env.update({"NO_COLOR": "1", "COLUMNS": "200", "PYTHONWARNINGS": "ignore::DeprecationWarning"})
    env.update(extra)
    return env


def make_messages(count: int, *, users: int = 10, seed: int = 7) -> list[dict[str, Any]]:
    """``count`` valid Segment messages (track, identify and page) from ``users`` people, the same for a seed."""
    rng = random.Random(seed)
    messages: list[dict[str, Any]] = []
    for i in range(count):
        user = f"user-{rng.randrange(users)}"
        kind = rng.choice(("track", "track", "identify", "page"))
        message: dict[str, Any] = {
            "type": kind,
            "userId": user,
            "messageId": f"msg-{seed}-{i}",
            "timestamp": (RECEIVED_AT - dt.timedelta(minutes=count - i)).isoformat(),
        }
        if kind == "track":
            message["event"] = rng.choice(("Product Viewed", "Product Added"))
        elif kind == "identify":
            message["traits"] = {"email": f"{user}@example.com"}
        else:
            message["name"] = "Home"
        messages.append(message)
    return messages


def expected_counts(messages: list[dict[str, Any]]) -> tuple[dict[str, int], int]:
    """(events by type, distinct user ids) that the processor should report for ``messages``."""
    return dict(Counter(m["type"] for m in messages)), len({m["userId"] for m in messages})
