"""Errors that c360 raises on purpose. Each carries a message a user can act on.

C360Error                    base: the CLI prints the message and exits non-zero, the API answers JSON
├── ConfigError              a settings file or a setting is invalid (names the key and the reason)
├── WorkspaceError           the workspace folder is missing, not a workspace, or already one
├── StoreUnavailable         the operational store or the event log cannot be reached
│   └── StoreBusy            another transaction held the write lock longer than the wait (HTTP 503, Retry-After)
├── AuthError                no key, or an unknown or revoked key (HTTP 401)
│   └── ForbiddenError       a valid key without the scope the action needs (HTTP 403)
├── NotFound                 a named thing does not exist (HTTP 404)
├── InvalidInput             a value given by the user is wrong (names the field; HTTP 422)
├── Overloaded               a queue is over its configured depth (HTTP 429)
└── EngineError              a batch engine failed; carries the engine name and the SQL
"""

from __future__ import annotations


class C360Error(Exception):
    """Base of every error c360 raises on purpose."""

    http_status = 500
    code = "error"
    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(C360Error):
    http_status = 500
    code = "config_error"
    exit_code = 2


class WorkspaceError(C360Error):
    code = "workspace_error"
    exit_code = 2


class StoreUnavailable(C360Error):
    http_status = 503
    code = "store_unavailable"
    exit_code = 3


class StoreBusy(StoreUnavailable):
    """A transient state: another writer (a large ``c360 resolve``, say) kept SQLite's write lock for longer than a
    transaction waits for it. Nothing of the failed transaction was kept; trying again later works."""

    code = "store_busy"

    def __init__(self, message: str, *, retry_after_seconds: int = 5) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class AuthError(C360Error):
    http_status = 401
    code = "unauthorized"
    exit_code = 4


class ForbiddenError(AuthError):
    http_status = 403
    code = "forbidden"


class NotFound(C360Error):
    http_status = 404
    code = "not_found"
    exit_code = 5


class InvalidInput(C360Error):
    http_status = 422
    code = "invalid_input"
    exit_code = 2

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


class Overloaded(C360Error):
    http_status = 429
    code = "overloaded"

    def __init__(self, message: str, *, retry_after_seconds: int = 1) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class EngineError(C360Error):
    code = "engine_error"

    def __init__(self, message: str, *, engine: str, sql: str | None = None) -> None:
        detail = f"[{engine}] {message}"
        if sql:
            detail += f"\n-- while running:\n{sql}"
        super().__init__(detail)
        self.engine = engine
        self.sql = sql
