"""The overview pages: `/` (every programme) and `/programmes/{code}` (one), HTML made on the
server for people (a finance office, an elected official, a journalist) rather than programs.
Not part of the API contract (`include_in_schema=False`); their figures are the API's."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from app.db import ReplicaSession
from app.errors import Forbidden
from app.overview import charts, i18n
from app.overview.service import OverviewService

router = APIRouter(include_in_schema=False)

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.filters["money"] = i18n.money
templates.env.filters["short_money"] = i18n.short_money
templates.env.filters["percent"] = i18n.percent
templates.env.filters["count"] = i18n.count

LangParam = Annotated[
    i18n.Lang | None, Query(description="fr or en; by default from Accept-Language, else fr.")
]


def _language(request: Request, asked: i18n.Lang | None) -> i18n.Lang:
    if asked is not None:
        return asked
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in i18n.LANGS:
            return tag
    return "fr"


def _public(request: Request) -> None:
    if request.app.state.settings.auth.read_requires_key:
        # A browser sends no API key: with reads behind keys, the page would leak them.
        raise Forbidden("The overview pages show public data; reads on this service need a key.")


def _page(request: Request, template: str, lang: i18n.Lang, **context: object) -> HTMLResponse:
    response = templates.TemplateResponse(
        request,
        template,
        {
            "lang": lang,
            "t": i18n.words(lang),
            "other": "en" if lang == "fr" else "fr",
            "chart": charts,
            **context,
        },
    )
    response.headers["Content-Language"] = lang
    response.headers["Vary"] = "Accept-Language"
    response.headers["Cache-Control"] = "no-cache"  # figures change with every write
    return response


@router.get("/", name="overview_page", response_class=HTMLResponse)
async def overview_page(
    request: Request, session: ReplicaSession, lang: LangParam = None
) -> HTMLResponse:
    _public(request)
    language = _language(request, lang)
    totals, cards = await OverviewService(session, request.app.state.settings).overview()
    return _page(request, "overview.html", language, totals_figures=totals, cards=cards)


@router.get("/programmes/{code}", name="programme_page", response_class=HTMLResponse)
async def programme_page(
    request: Request, session: ReplicaSession, code: str, lang: LangParam = None
) -> HTMLResponse:
    _public(request)
    language = _language(request, lang)
    page = await OverviewService(session, request.app.state.settings).programme(code)
    return _page(request, "programme.html", language, page=page)
