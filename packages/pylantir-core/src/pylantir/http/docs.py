"""The OpenAPI document and its Swagger UI at ``/docs``, served from the installed swagger-ui-bundle (nothing
is fetched from the internet); both need a login or a token, like the API they describe."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from pylantir.http.auth import READER

ASSETS = "/docs/assets"
router = APIRouter(include_in_schema=False, dependencies=[Depends(READER)])


@router.get("/openapi.json")
async def openapi(request: Request) -> dict[str, Any]:
    """The OpenAPI document of every route."""
    app: FastAPI = request.app
    return app.openapi()


@router.get("/docs", response_class=HTMLResponse)
async def swagger_ui() -> HTMLResponse:
    """Swagger UI over the OpenAPI document."""
    return get_swagger_ui_html(
        openapi_url="/openapi.json", title="Pylantir API", swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS}/swagger-ui.css", swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
    )


def mount_docs(app: FastAPI) -> None:
    """Add ``/openapi.json``, ``/docs`` and Swagger UI's static files (open: they hold no data)."""
    app.include_router(router)
    app.mount(ASSETS, StaticFiles(directory=swagger_ui_path), name="swagger-ui")
