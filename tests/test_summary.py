"""The executive summary from an OpenAI-compatible API (a stand-in on 127.0.0.1), its prompt free
of personal data, and the template fallback when the API fails."""

from __future__ import annotations

import io
import json
import re

import pytest
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


@pytest.fixture(scope="module")
def settings(db_url, tmp_path_factory, standin):
    return make_settings(
        db_url,
        tmp_path_factory.mktemp("lfs"),
        openai={
            "api_key": "sk-test-key",
            "base_url": f"{standin.url}/v1",
            "timeout_s": 5,
            "model": "gpt-test",
        },
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
