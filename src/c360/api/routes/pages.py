"""The web page at ``/``: the workspace's counts in Vietnamese or English (the dashboard grows from here)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import func, select

import c360
from c360.api.deps import WorkspaceDep
from c360.services.status import workspace_status
from c360.store.schema import order_stats
from c360.web import TEMPLATES_DIR
from c360.web.i18n import TEXTS, format_money, format_number, pick_language

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=TEMPLATES_DIR)


@router.get("/", response_class=HTMLResponse)
def overview(
    request: Request,
    workspace: WorkspaceDep,
    lang: Annotated[str | None, Query()] = None,
    accept_language: Annotated[str | None, Header()] = None,
) -> HTMLResponse:
    language = pick_language(lang, accept_language, workspace.settings.language)
    t = TEXTS[language]
    status = workspace_status(workspace)
    with workspace.store.read() as conn:
        totals = conn.execute(
            select(
                order_stats.c.currency,
                func.sum(order_stats.c.order_count).label("orders"),
                func.sum(order_stats.c.total_spend_minor).label("revenue"),
            ).group_by(order_stats.c.currency)
        ).all()

    def number(value: int) -> str:
        return format_number(int(value), language)

    cards = [
        ("events_accepted", number(status["events"]["accepted"])),
        ("events_in_lake", number(status["events"]["lake_watermark"])),
        ("processor_lag", number(status["processor"]["lag"])),
        ("profiles", number(status["profiles"])),
        ("customers_with_orders", number(status["customers_with_orders"])),
        ("sources", number(status["sources"])),
        ("orders", number(sum(int(row.orders) for row in totals))),
    ]
    cards += [("revenue", format_money(int(row.revenue), row.currency, language)) for row in totals if row.revenue]
    return templates.TemplateResponse(
        request,
        "index.html",
        {
            "lang": language,
            "t": t,
            "cards": [{"key": key, "label": t[key], "value": value} for key, value in cards],
            "by_type": [(kind, number(n)) for kind, n in sorted(status["events"]["by_type"].items())],
            "workspace": status["workspace"],
            "version": c360.__version__,
            "static_url": request.url_for("static", path="c360.css"),
        },
    )
