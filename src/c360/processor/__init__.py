"""The event processor: applies the log, in order, to the operational store through handlers."""

from c360.processor.handlers import Handler, KnownUsersHandler, SourceStatsHandler
from c360.processor.processor import EventProcessor, ProcessedEvent

__all__ = ["EventProcessor", "Handler", "KnownUsersHandler", "ProcessedEvent", "SourceStatsHandler", "default_handlers"]


def default_handlers() -> list[Handler]:
    """The handlers every workspace runs; later capabilities (identity, loyalty, segments) add theirs here."""
    return [SourceStatsHandler(), KnownUsersHandler()]
