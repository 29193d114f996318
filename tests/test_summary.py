"""The executive summary from an OpenAI-compatible API (a stand-in on 127.0.0.1), its prompt free
of personal data, and the template fallback when the API fails; the optional Mapbox basemap from a
stand-in of the Static Images API."""

from __future__ import annotations

import io
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image
from pypdf import PdfReader

from geo.models import LeadStatus, Role
from tests.conftest import make_settings
from tests.dossier_factory import OWNERS, seed_site
from tests.openai_standin import OpenAIStandin


@pytest.fixture(scope="module")
def standin():
    s = OpenAIStandin().start()
    yield s
    s.stop()


class MapboxStandin:
    """Answers GET /styles/v1/{user}/{style}/static/[bbox]/{w}x{h} with a PNG of that size."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.fail = False
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server API
                standin.paths.append(self.path)
                m = re.search(r"/static/\[([-0-9.,]+)\]/(\d+)x(\d+)", self.path)
                if standin.fail or not m or "access_token=pk.test" not in self.path:
                    self.send_response(401 if m else 404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                buf = io.BytesIO()
                Image.new("RGB", (int(m[2]), int(m[3])), (200, 220, 200)).save(buf, "PNG")
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(buf.getvalue())))
                self.end_headers()
                self.wfile.write(buf.getvalue())

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def mapbox():
    s = MapboxStandin()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def settings(db_url, tmp_path_factory, standin, mapbox):
    return make_settings(
        db_url,
        tmp_path_factory.mktemp("lfs"),
        openai={
            "api_key": "sk-test-key",
            "base_url": f"{standin.url}/v1",
            "timeout_s": 5,
            "model": "gpt-test",
        },
        mapbox={"token": "pk.test", "api_url": mapbox.url},
    )


@pytest.fixture(scope="module")
async def lead_id(state):
    async with state.sessions() as s:
        return await seed_site(s, state.cipher, status=LeadStatus.QUALIFIED)


def text_of(data: bytes) -> str:
    pages = PdfReader(io.BytesIO(data)).pages
    return re.sub(r"[\s\u00a0]+", " ", " ".join(p.extract_text() or "" for p in pages))


async def dossier(client, headers, lead_id):
    r = await client.post(f"/api/leads/{lead_id}/generate-pdf", headers=headers)
    assert r.status_code == 201, r.text
    pdf = await client.get(r.json()["download_url"], headers=headers)
    return r.json(), text_of(pdf.content)


async def test_summary_written_by_the_api_without_personal_data(
    client, auth_headers, lead_id, standin
):
    standin.mode = "ok"
    standin.requests.clear()
    headers = await auth_headers(Role.MANAGER)
    body, text = await dossier(client, headers, lead_id)
    assert body["summary_source"] == "openai"
    assert "[résumé du modèle de test]" in text
    assert "gpt-test" in text  # the dossier says who wrote the summary
    assert len(standin.requests) == 1
    assert standin.auth[0] == "Bearer sk-test-key"
    sent = standin.requests[0]
    assert sent["model"] == "gpt-test"
    prompt = json.dumps(sent["messages"], ensure_ascii=False)
    # The facts are there…
    assert "Terres de Bord" in prompt and "znieff2" in prompt
    # …and nothing personal, although this MANAGER's own dossier does show the owners.
    for owner in OWNERS:
        for value in owner.values():
            assert value not in prompt
    assert "français" in sent["messages"][0]["content"]
    assert OWNERS[0]["name"] in text


@pytest.mark.parametrize("mode", ["error", "empty"])
async def test_api_failure_falls_back_to_the_template(client, auth_headers, lead_id, standin, mode):
    standin.mode = mode
    standin.requests.clear()
    headers = await auth_headers(Role.MANAGER)
    body, text = await dossier(client, headers, lead_id)
    assert standin.requests, "the API was called"
    assert body["summary_source"] == "template"
    assert "[résumé du modèle de test]" not in text
    assert "modèle de texte (sans IA)" in text
    assert "API de résumé indisponible" in text
    assert any("API de résumé indisponible" in n for n in body["notes"])
    # The template's first sentence, stated from the site's facts.
    assert "Le site « Terres de Bord — Les Longs Champs » est situé à Terres de Bord (27)" in text


async def test_mapbox_basemap_when_configured(client, auth_headers, lead_id, standin, mapbox):
    standin.mode = "ok"
    mapbox.fail = False
    mapbox.paths.clear()
    headers = await auth_headers(Role.MANAGER)
    body, text = await dossier(client, headers, lead_id)
    assert len(mapbox.paths) == 2  # the site map and the context map
    # The requested extent is around the site (Terres de Bord, Eure: lon ≈ 1.1, lat ≈ 49.2).
    bbox = [float(x) for x in re.search(r"\[([-0-9.,]+)\]", mapbox.paths[0])[1].split(",")]
    assert 1.0 < bbox[0] < bbox[2] < 1.25 and 49.1 < bbox[1] < bbox[3] < 49.35
    assert "fond de plan Mapbox" in text
    mapbox.fail = True
    body, text = await dossier(client, headers, lead_id)
    assert "sans fond de plan" in text and "Fond de plan Mapbox indisponible" in text
