"""The workspace's event processor, with the handlers every workspace runs."""

from __future__ import annotations

from typing import Any

from c360.processor import EventProcessor, default_handlers
from c360.workspace import Workspace


def processor_for(ws: Workspace) -> EventProcessor:
    from c360.identity.stitch import IdentityHandler, StitchOptions

    options = StitchOptions.from_settings(ws.settings)
    handlers: list[Any] = [*default_handlers(), IdentityHandler(options)]
    loyalty = _loyalty_handler(ws, options)
    if loyalty is not None:
        handlers.append(loyalty)  # after identity: an order earns for the profile its batch stitched it to
    handlers.append(_segments_handler(ws))  # after identity: it decides the profiles the batch stitched
    return EventProcessor(ws.log, ws.store, handlers, batch_size=ws.settings.processor_batch_events)


def _loyalty_handler(ws: Workspace, options: Any) -> Any:
    """The loyalty handler when the workspace declares a program; a malformed program file stops the processor
    with the key that is wrong, rather than letting orders pass without earning."""
    from c360.identity.extract import Extractor
    from c360.loyalty.program import load_program
    from c360.services.loyalty import program_path
    from c360.services.loyalty.handler import LoyaltyHandler
    from c360.services.loyalty.operations import Context

    path = program_path(ws)
    if not path.is_file():
        return None
    ctx = Context(load_program(path), ws.settings.zone, ws.settings.loyalty_lot_order)
    return LoyaltyHandler(ctx, Extractor(options.normalizer), ws.settings.default_currency)


def _segments_handler(ws: Workspace) -> Any:
    from c360.services.segments import definitions, load_traits
    from c360.services.segments_realtime import SegmentsHandler

    return SegmentsHandler(
        lambda: definitions(ws, strict=False),
        ws.settings.timezone,
        traits=load_traits(ws),
        default_currency=ws.settings.default_currency,
    )
