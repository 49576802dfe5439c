"""Rules of the architecture that a reviewer would otherwise have to catch by eye.

- ``c360.domain`` is pure Python: it imports nothing that does I/O and opens no file.
- ``import c360`` and ``import c360.engines`` load neither DuckDB nor PySpark (engines load lazily).
- Values are never formatted into SQL: no f-string (or %/format/+) inside ``text()`` / ``exec_driver_sql()``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "c360"

#: Top-level modules that do I/O (files, network, processes, databases, engines, HTTP).
IO_MODULES = frozenset(
    {
        "duckdb", "sqlalchemy", "fastapi", "starlette", "uvicorn", "pyspark", "py4j", "pyarrow", "httpx",
        "requests", "urllib", "urllib3", "http", "socket", "ssl", "sqlite3", "psycopg", "psycopg2", "os", "io",
        "pathlib", "subprocess", "shutil", "tempfile", "glob", "asyncio", "threading", "multiprocessing",
        "logging", "pickle", "shelve", "builtins", "importlib", "alembic", "typer", "click", "rich",
    }
)  # fmt: skip
#: c360 modules the domain may use: itself, and the error hierarchy.
DOMAIN_MAY_IMPORT = ("c360.domain", "c360.errors")
IO_CALLS = frozenset({"open", "exec", "eval", "__import__", "input", "print", "breakpoint"})
SQL_RUNNERS = frozenset({"text", "exec_driver_sql", "executescript"})
#: Packages whose code touches the operational store or the log.
SQL_PACKAGES = ("store", "services", "eventlog", "processor")


def _python_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _package_of(path: Path) -> str:
    module = _module_name(path)
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def _imports(path: Path, package: str) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in ``path``, relative ones resolved against ``package``."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = parts[: len(parts) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            yield node.lineno, module
            for alias in node.names:  # `from c360 import store` imports c360.store
                yield node.lineno, f"{module}.{alias.name}"


def test_the_domain_files_are_found() -> None:
    assert len(_python_files(SRC / "domain")) >= 2


@pytest.mark.parametrize("path", _python_files(SRC / "domain"), ids=lambda p: p.name)
def test_the_domain_imports_nothing_that_does_io(path: Path) -> None:
    problems = []
    for line, module in _imports(path, _package_of(path)):
        top = module.split(".")[0]
        if top in IO_MODULES:
            problems.append(f"line {line}: imports {module}")
        if top == "c360" and module != "c360" and not module.startswith(DOMAIN_MAY_IMPORT):
            # `from c360.domain import x` also yields c360.domain.x, which is fine; anything else is not
            problems.append(f"line {line}: imports {module} (the domain may use only c360.domain and c360.errors)")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name in IO_CALLS or name in {"read_text", "write_text", "read_bytes", "write_bytes"}:
                problems.append(f"line {node.lineno}: calls {name}()")
    assert not problems, f"{path.relative_to(SRC.parent)} is not pure:\n" + "\n".join(problems)


def test_the_import_check_sees_relative_and_from_imports(tmp_path: Path) -> None:
    """The checker itself catches a bad file (a check that can never fail protects nothing)."""
    sample = tmp_path / "sample.py"
    sample.write_text("from .. import store\nfrom os import path\nimport duckdb.typing\nfrom . import money\n")
    found = set(_imports(sample, "c360.domain"))
    assert {(1, "c360.store"), (2, "os"), (3, "duckdb.typing"), (4, "c360.domain.money")} <= found


@pytest.mark.parametrize("statement", ["import c360", "import c360.engines", "import c360.domain, c360.settings"])
def test_importing_c360_loads_no_engine(statement: str) -> None:
    engines = {"duckdb", "pyspark", "py4j"}
    code = f"{statement}\nimport sys\nprint(sorted({{m.split('.')[0] for m in sys.modules}} & {engines!r}))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", f"`{statement}` loaded {result.stdout.strip()}"


def _formatted(node: ast.expr) -> str | None:
    """Why ``node`` is SQL built from values at run time, or None when it is a constant or a name."""
    if isinstance(node, ast.JoinedStr) and any(isinstance(part, ast.FormattedValue) for part in node.values):
        return "an f-string"
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod) and isinstance(node.left, ast.Constant):
        return "%-formatting"
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return "string concatenation"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
        return "str.format()"
    return None


def _sql_sites(path: Path) -> Iterator[tuple[int, str]]:
    """(line, problem) of every SQL runner called on SQL formatted at run time."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if name in SQL_RUNNERS and (why := _formatted(node.args[0])):
            yield node.lineno, f"{name}() of {why}"


def test_no_sql_is_formatted_around_values() -> None:
    files = [path for package in SQL_PACKAGES for path in _python_files(SRC / package)]
    assert files
    problems = [f"{path.relative_to(SRC.parent)}:{line}: {why}" for path in files for line, why in _sql_sites(path)]
    assert not problems, "bind values as parameters (text(':name') + execute(..., params)):\n" + "\n".join(problems)


def test_the_sql_check_catches_what_it_should(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "conn.execute(text(f'SELECT * FROM t WHERE id = {x}'))\n"
        "conn.exec_driver_sql('DELETE FROM t WHERE id = %s' % x)\n"
        "conn.execute(sa.text('SELECT ' + col))\n"
        "conn.execute(text('SELECT {}'.format(x)))\n"
        "conn.execute(text('SELECT 1 WHERE id = :id'), {'id': x})\n"
        "conn.execute(text(f'SELECT 1'))\n",
        encoding="utf-8",
    )
    assert sorted(line for line, _why in _sql_sites(sample)) == [1, 2, 3, 4]
