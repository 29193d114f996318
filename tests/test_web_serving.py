"""The API serves the built web app: SPA fallback, cache headers, pre-compressed assets."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from api.app import create_app
from api.settings import Settings
from tests.conftest import assert_problem, make_settings

INDEX = "<!doctype html><html><body><div id=root></div>app-shell</body></html>"
SCRIPT = "console.log('lead factory');" * 200


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A minimal built bundle: index.html, a hashed asset and its .gz twin, a favicon."""
    root = tmp_path_factory.mktemp("dist")
    (root / "assets").mkdir()
    (root / "index.html").write_text(INDEX)
    (root / "assets" / "index-AbC123.js").write_text(SCRIPT)
    (root / "assets" / "index-AbC123.js.gz").write_bytes(gzip.compress(SCRIPT.encode()))
    (root / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (root.parent / "secret.txt").write_text("outside the bundle")
    return root


@pytest.fixture(scope="module")
def web_settings(db_url: str, tmp_path_factory: pytest.TempPathFactory, dist: Path) -> Settings:
    """Settings pointing web_dist at the fake bundle, with a public Mapbox token."""
    return make_settings(
        db_url, tmp_path_factory.mktemp("lfs"), web_dist=dist, mapbox={"token": "pk.test-public"}
    )


@pytest.fixture(scope="module")
async def web(web_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app serving the fake bundle."""
    app = create_app(web_settings)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            yield c


@pytest.mark.parametrize("path", ["/", "/map", "/pipeline", "/leads/42", "/admin?x=1"])
async def test_client_routes_get_the_index(web: httpx.AsyncClient, path: str) -> None:
    r = await web.get(path)
    assert r.status_code == 200
    assert "app-shell" in r.text
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["cache-control"] == "no-cache"


async def test_hashed_assets_are_immutable_and_precompressed(web: httpx.AsyncClient) -> None:
    r = await web.get("/assets/index-AbC123.js", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200
    assert r.headers["content-encoding"] == "gzip"
    assert "immutable" in r.headers["cache-control"]
    assert r.headers["content-type"].split(";")[0] in {"text/javascript", "application/javascript"}
    assert r.text == SCRIPT  # httpx decoded the gzip body: the original file


async def test_asset_without_gzip_support(web: httpx.AsyncClient) -> None:
    r = await web.get("/assets/index-AbC123.js", headers={"Accept-Encoding": "identity"})
    assert r.status_code == 200
    assert "content-encoding" not in r.headers
    assert r.text == SCRIPT


async def test_root_files_and_missing_assets(web: httpx.AsyncClient) -> None:
    r = await web.get("/favicon.svg")
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg")
    assert_problem(await web.get("/assets/old-build-XYZ.js"), 404)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/nope"),
        ("POST", "/api/nope"),
        ("GET", "/api"),
        ("GET", "/tiles/nope/1/2/3.txt"),
        ("GET", "/ogc/nope"),
    ],
)
async def test_server_paths_never_fall_back(web: httpx.AsyncClient, method: str, path: str) -> None:
    r = await web.request(method, path)
    assert r.status_code in (404, 405), r.text
    assert_problem(r, r.status_code)
    assert "app-shell" not in r.text


async def test_no_file_outside_the_bundle(web: httpx.AsyncClient) -> None:
    for path in ["/../secret.txt", "/%2e%2e/secret.txt", "/assets/../../secret.txt"]:
        r = await web.get(path)
        assert "outside the bundle" not in r.text


async def test_web_config_exposes_only_public_mapbox_tokens(
    web: httpx.AsyncClient, db_url: str, tmp_path: Path
) -> None:
    r = await web.get("/api/web/config")
    assert r.status_code == 200
    assert r.json() == {"mapbox_token": "pk.test-public"}
    secret = create_app(make_settings(db_url, tmp_path, mapbox={"token": "sk.secret"}))
    async with LifespanManager(secret):
        transport = httpx.ASGITransport(app=secret)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            assert (await c.get("/api/web/config")).json() == {"mapbox_token": None}


async def test_unbuilt_app_is_a_clear_404(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.get("/pipeline"), 404)
    assert "make web" in str(body["detail"])


def _csp(response: httpx.Response) -> dict[str, list[str]]:
    policy = response.headers["content-security-policy"]
    return {d.split()[0]: d.split()[1:] for d in (p.strip() for p in policy.split(";")) if d}


@pytest.mark.parametrize("path", ["/", "/map", "/assets/index-AbC123.js", "/favicon.svg"])
async def test_security_headers_on_every_app_file(web: httpx.AsyncClient, path: str) -> None:
    r = await web.get(path)
    assert r.status_code == 200
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    csp = _csp(r)
    assert csp["default-src"] == ["'self'"] and csp["script-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"] and csp["object-src"] == ["'none'"]
    # MapLibre: workers from blob:, images from data:/blob:; tiles and API same-origin.
    assert "blob:" in csp["worker-src"] and {"data:", "blob:"} <= set(csp["img-src"])
    # The public Mapbox token of these settings: its API may serve the basemap.
    assert "https://api.mapbox.com" in csp["connect-src"]
    assert "https://api.mapbox.com" in csp["img-src"]


async def test_no_mapbox_no_mapbox_origin(tmp_path: Path) -> None:
    from api.web import content_security_policy

    settings = Settings(web_dist=tmp_path)
    assert "mapbox" not in content_security_policy(settings)
    secret = Settings(web_dist=tmp_path, mapbox={"token": "sk.secret"})
    assert "mapbox" not in content_security_policy(secret)  # never handed to browsers


async def test_docs_served_without_a_cdn(web: httpx.AsyncClient) -> None:
    import base64
    import hashlib
    import re

    r = await web.get("/docs")
    assert r.status_code == 200 and "SwaggerUIBundle" in r.text
    urls = re.findall(r'(?:src|href)="([^"]+)"', r.text)
    assert urls and all(u.startswith("/docs/static/") for u in urls), urls
    assert "//" not in " ".join(urls) and "cdn" not in r.text
    for url in urls:
        asset = await web.get(url)
        assert asset.status_code == 200 and len(asset.content) > 1000, url
    js = await web.get("/docs/static/swagger-ui-bundle.js")
    assert "javascript" in js.headers["content-type"]
    # The CSP lets exactly the page's inline script run (by its hash), nothing from elsewhere.
    csp = _csp(r)
    inline = re.findall(r"<script>(.*?)</script>", r.text, re.S)
    digest = base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()
    assert csp["script-src"] == ["'self'", f"'sha256-{digest}'"]
    assert r.headers["x-frame-options"] == "DENY"
    redirect = await web.get("/docs/oauth2-redirect")
    assert redirect.status_code == 200 and "content-security-policy" in redirect.headers
