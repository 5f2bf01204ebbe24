"""The OpenAPI 3.1 document, built from the route table with msgspec's JSON Schema support."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import msgspec

from keystead import __version__
from keystead.api.errors import PROBLEM_CONTENT_TYPE, status_of
from keystead.api.routing import AnyEndpoint
from keystead.api.schemas.base import Empty, NoContent, Problem
from keystead.errors import KeysteadError, PayloadTooLarge, Sealed, Unauthenticated

_REF = "#/components/schemas/{name}"
_PARAM = re.compile(r"{(\w+)}")


def build_openapi(endpoints: Sequence[AnyEndpoint]) -> dict[str, Any]:
    """Return the OpenAPI 3.1 document of ``endpoints``."""
    types = {e.request for e in endpoints if e.has_body} | {e.response for e in endpoints}
    types.add(Problem)
    ordered = sorted(types, key=lambda t: getattr(t, "__name__", str(t)))
    _, components = msgspec.json.schema_components(ordered, ref_template=_REF)
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(endpoint)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Keystead", "version": __version__},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _schema_ref(cls: type) -> dict[str, Any]:
    name = getattr(cls, "__name__", "")
    return {"$ref": _REF.format(name=name)} if name else {}


def _operation(endpoint: AnyEndpoint) -> dict[str, Any]:
    problem = {"content": {PROBLEM_CONTENT_TYPE: {"schema": _schema_ref(Problem)}}}
    success: dict[str, Any] = {"description": "success"}
    if endpoint.response is not NoContent:
        success["content"] = {endpoint.media_type: {"schema": _schema_ref(endpoint.response)}}
    operation: dict[str, Any] = {
        "operationId": endpoint.action,
        "summary": endpoint.summary,
        "responses": {
            str(endpoint.status): success,
            "4XX": {"description": "a problem with the request", **problem},
        },
    }
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PARAM.findall(endpoint.path)
    ]
    if parameters:
        operation["parameters"] = parameters
    if endpoint.has_body and endpoint.request is not Empty:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _schema_ref(endpoint.request)}},
        }
    statuses: list[KeysteadError] = [PayloadTooLarge()] if endpoint.has_body else []
    if endpoint.auth:
        operation["security"] = [{"bearer": []}]
        statuses.append(Unauthenticated())
    if endpoint.unsealed:
        statuses.append(Sealed())
    for error in statuses:
        operation["responses"][str(status_of(error))] = {"description": error.code, **problem}
    return operation
