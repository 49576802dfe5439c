"""Reading a user's YAML file (a mapping, the loyalty program, traits.yaml) with errors a user can act on: which
file, why it cannot be read, and where the YAML is broken (line and column)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any


def read_yaml(path: Path, error: Callable[[str], Exception], *, label: str = "", missing: str | None = None) -> Any:
    """The YAML document in ``path`` (UTF-8, a BOM allowed). Failures raise ``error(message)``; ``label`` names
    the kind of file in the message (``"mapping "``), ``missing`` replaces the message for a file that is not
    there."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        if missing is not None:
            raise error(missing) from None
        raise error(f"cannot read {label}{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise error(f"cannot read {label}{path}: {reason}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise error(f"{label}{path} is not valid YAML{where}: {problem}") from None
