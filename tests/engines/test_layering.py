"""Where code may live: engines hold no SQL text, load lazily, and say what to install when PySpark is missing."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

import c360.engines
from c360.errors import ConfigError, EngineError

ENGINES_DIR = Path(c360.engines.__file__).parent

# A statement keyword followed later by FROM/INTO/TABLE/VIEW, or a session SET: what SQL text looks like.
SQL_TEXT = re.compile(
    r"\b(SELECT|WITH)\b.+\bFROM\b|\bINSERT\s+INTO\b|\bCREATE\s+(OR\s+REPLACE\s+)?(TEMP\w*\s+)?(TABLE|VIEW)\b"
    r"|\bCOPY\b.+\bTO\b|^\s*SET\s+\w+",
    re.IGNORECASE | re.DOTALL,
)


def _string_constants(tree: ast.Module) -> list[tuple[int, str]]:
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def test_the_sql_text_detector_catches_sql() -> None:
    tree = ast.parse('q = "select a from t"\nx = f"INSERT INTO {t} VALUES (1)"\ns = "SET TimeZone = \'UTC\'"')
    assert len([text for _, text in _string_constants(tree) if SQL_TEXT.search(text)]) == 3


@pytest.mark.parametrize("module", sorted(ENGINES_DIR.glob("*.py")), ids=lambda p: p.name)
def test_engine_modules_hold_no_sql_text(module: Path) -> None:
    tree = ast.parse(module.read_text(encoding="utf-8"))
    found = [f"line {line}: {text!r}" for line, text in _string_constants(tree) if SQL_TEXT.search(text)]
    assert not found, f"{module.name} holds SQL text; SQL belongs in c360.sql: {found}"


def test_importing_engines_loads_neither_pyspark_nor_duckdb() -> None:
    code = "import sys, c360.engines; print(sorted(m for m in ('pyspark', 'duckdb') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_a_missing_pyspark_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "pyspark" or m.startswith("pyspark.")] or ["pyspark"]:
        monkeypatch.setitem(sys.modules, name, None)  # `import pyspark...` now fails as if not installed
    monkeypatch.delitem(sys.modules, "c360.engines.spark_engine", raising=False)

    with pytest.raises(EngineError, match=r"c360\[spark\]") as raised:
        c360.engines.open_engine("spark")

    assert raised.value.engine == "spark"


def test_an_unknown_engine_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="duckdb, spark"):
        c360.engines.open_engine("oracle")
