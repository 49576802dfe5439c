"""The workspace's event processor, with the handlers every workspace runs."""

from __future__ import annotations

from c360.processor import EventProcessor, default_handlers
from c360.workspace import Workspace


def processor_for(ws: Workspace) -> EventProcessor:
    from c360.identity.stitch import IdentityHandler, StitchOptions

    handlers = [*default_handlers(), IdentityHandler(StitchOptions.from_settings(ws.settings))]
    return EventProcessor(ws.log, ws.store, handlers, batch_size=ws.settings.processor_batch_events)
