"""Swagger UI at ``/docs`` with its script and style served by the app, not by a public CDN.

FastAPI's default page loads Swagger UI from a CDN: every visit tells a third party that
someone reads our API, and the page runs whatever that CDN serves. The files come from the
``fastapi-offline`` package (a pinned Swagger UI 5 build, which reads OpenAPI 3.1) and are
served under ``/docs/static``. The page's one inline script is allowed by its hash in the
Content-Security-Policy, so no other script runs there.
"""

from __future__ import annotations

import base64
import hashlib
import re
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from api.web import SECURITY_HEADERS

DOCS = "/docs"
STATIC = "/docs/static"
OAUTH2_REDIRECT = "/docs/oauth2-redirect"
ASSETS = Path(str(files("fastapi_offline") / "static"))
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)


def _with_headers(page: HTMLResponse) -> HTMLResponse:
    """The page with the web app's security headers and a CSP allowing its inline scripts."""
    html = bytes(page.body).decode()
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
        for s in _INLINE_SCRIPT.findall(html)
    )
    csp = (
        f"default-src 'self'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; "
        "form-action 'self'; frame-ancestors 'none'"
    )
    return HTMLResponse(html, headers={**SECURITY_HEADERS, "Content-Security-Policy": csp})


def mount_docs(app: FastAPI) -> None:
    """``/docs``, its OAuth2 redirect page and its static files (create the app with
    ``docs_url=None``)."""
    assert app.openapi_url is not None
    openapi_url = app.openapi_url
    title = f"{app.title} - Swagger UI"
    app.mount(STATIC, StaticFiles(directory=ASSETS), name="docs-static")

    async def docs() -> HTMLResponse:
        return _with_headers(
            get_swagger_ui_html(
                openapi_url=openapi_url,
                title=title,
                oauth2_redirect_url=OAUTH2_REDIRECT,
                swagger_js_url=f"{STATIC}/swagger-ui-bundle.js",
                swagger_css_url=f"{STATIC}/swagger-ui.css",
                swagger_favicon_url=f"{STATIC}/favicon.png",
                # No badge fetched from the public validator.
                swagger_ui_parameters={"validatorUrl": None},
            )
        )

    async def oauth2_redirect() -> HTMLResponse:
        return _with_headers(get_swagger_ui_oauth2_redirect_html())

    app.add_api_route(DOCS, docs, methods=["GET"], include_in_schema=False)
    app.add_api_route(OAUTH2_REDIRECT, oauth2_redirect, methods=["GET"], include_in_schema=False)
