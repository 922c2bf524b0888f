"""/docs (Swagger UI) and /redoc served from pinned local assets: no CDN, no network needed."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

from app.errors import NotFound

REDOC_VERSION = "2.5.4"
ASSETS_PREFIX = "/docs/assets"


def _swagger_ui_dir() -> Path:
    """The one `swagger-ui-X.Y.Z` folder that the pinned `swagger-ui-bundle-v2` ships."""
    vendor = Path(str(files("swagger_ui_bundle") / "vendor"))
    (folder,) = sorted(vendor.glob("swagger-ui-*"))
    return folder


SWAGGER_UI_DIR = _swagger_ui_dir()
SWAGGER_UI = SWAGGER_UI_DIR.name  # e.g. swagger-ui-5.31.0: the version is in every asset URL
REDOC = f"redoc-{REDOC_VERSION}"
REDOC_DIR = Path(__file__).parent / "vendor" / REDOC

# Exactly the files the two pages load (and the licences): nothing else is reachable, so no
# path from the URL ever touches the file system.
ASSETS: dict[tuple[str, str], tuple[Path, str]] = {
    (SWAGGER_UI, "swagger-ui-bundle.js"): (
        SWAGGER_UI_DIR / "swagger-ui-bundle.js",
        "text/javascript",
    ),
    (SWAGGER_UI, "swagger-ui.css"): (SWAGGER_UI_DIR / "swagger-ui.css", "text/css"),
    (SWAGGER_UI, "favicon-32x32.png"): (SWAGGER_UI_DIR / "favicon-32x32.png", "image/png"),
    (REDOC, "redoc.standalone.js"): (REDOC_DIR / "redoc.standalone.js", "text/javascript"),
    (REDOC, "LICENSE"): (REDOC_DIR / "LICENSE", "text/plain"),
    (REDOC, "redoc.standalone.js.LICENSE.txt"): (
        REDOC_DIR / "redoc.standalone.js.LICENSE.txt",
        "text/plain",
    ),
}

# The version is part of the URL, so a cached copy can never be stale.
IMMUTABLE = {"Cache-Control": "public, max-age=31536000, immutable"}

# The pages may load and call nothing but this origin: even if a bundle hard-codes a URL (ReDoc
# 2.5 shows a logo from cdn.redoc.ly), the browser never asks another host, so a reader behind
# an intranet proxy waits for nothing and no third party learns who reads the docs. Inline
# code is FastAPI's page set-up; `data:` and `blob:` are the bundles' icons and ReDoc's worker.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "worker-src 'self' blob:",
        "connect-src 'self'",
        "base-uri 'none'",
        "frame-ancestors 'self'",
    )
)

router = APIRouter(include_in_schema=False)


def _asset_url(request: Request, bundle: str, name: str) -> str:
    return f"{request.scope.get('root_path', '')}{ASSETS_PREFIX}/{bundle}/{name}"


def _openapi_url(request: Request) -> str:
    return f"{request.scope.get('root_path', '')}{request.app.openapi_url}"


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    page = get_swagger_ui_html(
        openapi_url=_openapi_url(request),
        title=f"{request.app.title} - Swagger UI",
        swagger_js_url=_asset_url(request, SWAGGER_UI, "swagger-ui-bundle.js"),
        swagger_css_url=_asset_url(request, SWAGGER_UI, "swagger-ui.css"),
        swagger_favicon_url=_asset_url(request, SWAGGER_UI, "favicon-32x32.png"),
        # Swagger UI would otherwise send the document's URL to validator.swagger.io.
        swagger_ui_parameters={"validatorUrl": None},
    )
    page.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return page


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    page = get_redoc_html(
        openapi_url=_openapi_url(request),
        title=f"{request.app.title} - ReDoc",
        redoc_js_url=_asset_url(request, REDOC, "redoc.standalone.js"),
        redoc_favicon_url=_asset_url(request, SWAGGER_UI, "favicon-32x32.png"),
        with_google_fonts=False,
    )
    page.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return page


@router.get(ASSETS_PREFIX + "/{bundle}/{name}")
async def get_docs_asset(bundle: str, name: str) -> FileResponse:
    asset = ASSETS.get((bundle, name))
    if asset is None:
        raise NotFound(f"No documentation asset {bundle}/{name}.")
    path, media_type = asset
    return FileResponse(path, media_type=media_type, headers=IMMUTABLE)
