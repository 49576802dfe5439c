"""``create_app(settings)``: the FastAPI application of one workspace."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

import c360
from c360.api.errors import install_error_handlers
from c360.api.routes import admin, health, identity, loyalty, pages, profiles, segments, tracking
from c360.collect.service import Collector
from c360.services.worker import BackgroundWorker, WorkerProcess
from c360.settings import Settings
from c360.web import STATIC_DIR
from c360.workspace import Workspace


def create_app(settings: Settings, *, background: bool = True) -> FastAPI:
    """The app for the workspace in ``settings``; ``background=False`` leaves event processing to the caller."""
    workspace = Workspace.open(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        workspace.store  # noqa: B018 - open (and migrate) before the first request, so errors surface at start
        worker: BackgroundWorker | WorkerProcess | None = None
        if background:
            worker = WorkerProcess(settings) if settings.background_process else BackgroundWorker(workspace)
        if worker:
            worker.start()
        try:
            yield
        finally:
            if worker:
                worker.stop()
            workspace.close()

    app = FastAPI(
        title="c360",
        version=c360.__version__,
        description="Customer Data Platform with a built-in loyalty program.",
        lifespan=lifespan,
    )
    app.state.workspace = workspace
    app.state.settings = settings
    app.state.collector = Collector(workspace)
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(tracking.router)
    app.include_router(admin.router)
    app.include_router(profiles.router)
    app.include_router(identity.router)
    app.include_router(loyalty.router)
    app.include_router(segments.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
