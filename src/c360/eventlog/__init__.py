"""The append-only event log: every accepted event is durable here before anyone is told it was accepted."""

from c360.eventlog.log import AppendResult, EventLog, LoggedEvent, LogRecord

__all__ = ["AppendResult", "EventLog", "LogRecord", "LoggedEvent"]
