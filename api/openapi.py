"""The OpenAPI document tells the truth about errors: each operation lists the problems it can
answer, as ``application/problem+json``, derived once here from what the operation is.

Routes declare only what their shape can't say (a 404 for ids in a body, an upload's 415, a
dossier's 503); the rest follows from the operation itself, as the middlewares and handlers
answer it:

* 400: a request body (malformed JSON or multipart); OGC and tile parameters (their standards
  answer a bad parameter with 400);
* 401, 403: a bearer token or a ``token`` parameter is taken; 401 also for the login routes;
* 404: path parameters (an id that is unknown or not the caller's to see);
* 409: an authenticated write (a state or a constraint in the way);
* 412: an ``If-Match`` header (a stale ETag);
* 413: a request body (``api.bodylimit``, the upload limit); 415: a multipart upload;
* 422: parameters or a body (validation, domain rules);
* 429: the API's rate limits (``api.ratelimit``: everything under ``/api`` but its exemptions).

Parameters are never ``null`` in the document: a query string or a header is there or not.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from api.errors import PROBLEM_JSON, TITLES, Problem
from api.ratelimit import EXEMPT_PREFIXES, LOGIN_PATHS

WRITES = frozenset({"post", "put", "patch", "delete"})
_METHODS = WRITES | {"get", "head", "options"}
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_STANDARD_PARAMS = ("/ogc", "/tiles")


def problem_statuses(path: str, method: str, op: dict[str, Any]) -> set[int]:
    """The 4xx statuses an operation can answer, from its path, method and parameters."""
    params = op.get("parameters", [])
    body = op.get("requestBody")
    secured = bool(op.get("security")) or any(p["name"] == "token" for p in params)
    codes: set[int] = set()
    if body is not None:
        codes |= {400, 413, 422}
        if "multipart/form-data" in body.get("content", {}):
            codes.add(415)
    if params:
        codes.add(400 if path.startswith(_STANDARD_PARAMS) else 422)
        if path.startswith(_STANDARD_PARAMS):
            codes.add(422)  # FastAPI's own validation of typed path parameters
    if secured:
        codes |= {401, 403}
    if path in LOGIN_PATHS:
        codes.add(401)
    if any(p["in"] == "path" for p in params):
        codes.add(404)
    if secured and method in WRITES:
        codes.add(409)
    if any(p["in"] == "header" and p["name"].lower() == "if-match" for p in params):
        codes.add(412)
    if path.startswith("/api/") and not path.startswith(EXEMPT_PREFIXES):
        codes.add(429)
    return codes


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Give every operation of ``schema`` its problem responses (idempotent), in place."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(problem.pop("$defs", {}))
    components["Problem"] = problem
    for path, item in schema.get("paths", {}).items():
        for method, op in item.items():
            if method not in _METHODS:
                continue
            for param in op.get("parameters", []):
                param["schema"] = _never_null(param.get("schema", {}))
            responses = op.setdefault("responses", {})
            declared = {int(code) for code in responses if code.isdigit() and int(code) >= 400}
            for code in sorted(declared | problem_statuses(path, method, op)):
                previous = responses.get(str(code), {})
                responses[str(code)] = {
                    "description": previous.get("description") or TITLES.get(code, "Error"),
                    "content": {PROBLEM_JSON: {"schema": _PROBLEM_REF}},
                }
    # FastAPI's default 422 body, replaced above by the problem document we really send.
    if "#/components/schemas/HTTPValidationError" not in json.dumps(schema["paths"]):
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
    return schema


def _never_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A parameter's schema without its ``null`` alternative: a query string, a header or a path
    has no null (``str | None`` means "may be left out"), and a client that sent the four
    letters ``null`` for an ``If-Match`` got a 412 for a value the document allowed."""
    alternatives = schema.get("anyOf")
    if not alternatives or {"type": "null"} not in alternatives:
        return schema
    rest = [a for a in alternatives if a != {"type": "null"}]
    out = {k: v for k, v in schema.items() if k not in ("anyOf", "default")}
    if len(rest) == 1:
        return {**rest[0], **out}
    return {**out, "anyOf": rest}


def install_openapi(app: FastAPI) -> None:
    """Serve the app's OpenAPI document with its problem responses documented."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_problems(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
