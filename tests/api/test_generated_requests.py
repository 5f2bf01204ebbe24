"""Hundreds of generated malformed requests, shaped by the app's own OpenAPI document, never 5xx.

Issue 2, must-show 5: every operation of the document gets bodies of random JSON, of the
right shape with wrong values, of broken JSON and of random bytes, and odd path values.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import Initialized

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any] | None]]:
    found = []
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            if path == "/v1/sys/seal":
                continue  # sealing would only turn the rest of the run into 503s
            schema = None
            if "requestBody" in operation:
                ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                schema = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
            found.append((method.upper(), path, schema))
    return found


def shaped_body(schema: dict[str, Any] | None) -> st.SearchStrategy[bytes]:
    """Objects with the schema's field names (plus strays) holding random values."""
    names = [*sorted((schema or {}).get("properties", {})), "unknown", ""]
    objects = st.dictionaries(st.sampled_from(names), JSON_VALUES, max_size=len(names))
    return objects.map(lambda value: json.dumps(value).encode())


def bodies(schema: dict[str, Any] | None) -> st.SearchStrategy[bytes]:
    return st.one_of(
        shaped_body(schema),
        JSON_VALUES.map(lambda value: json.dumps(value).encode()),
        shaped_body(schema).map(lambda raw: raw[: max(1, len(raw) // 2)]),
        st.binary(max_size=64),
    )


def test_generated_requests_never_get_a_5xx(unsealed: Initialized) -> None:
    client, auth = unsealed.client, unsealed.auth
    client.post("/v1/keys", json={"name": "fuzz", "spec": "AES_256_GCM"}, headers=auth)
    document = client.get("/v1/openapi.json", headers=auth).json()
    ops = operations(document)
    assert len(ops) >= 10
    requests = st.sampled_from(ops).flatmap(
        lambda op: st.tuples(
            st.just(op),
            bodies(op[2]),
            st.sampled_from(["fuzz", "missing", "%00", "a" * 300, "..", "ü"])
            | st.text(max_size=12),
            st.booleans(),
        )
    )
    answered: list[int] = []

    @settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
    @given(request=requests)
    def send(request) -> None:
        (method, path, _), body, key, with_token = request
        url = path.replace("{key}", quote(key, safe="") or "x")
        headers = {"content-type": "application/json", **(auth if with_token else {})}
        response = client.request(method, url, content=body, headers=headers)
        answered.append(response.status_code)
        assert response.status_code < 500, (method, url, body, response.text)
        if response.status_code >= 400:
            assert response.headers["content-type"] == "application/problem+json"
            problem = response.json()
            assert problem["status"] == response.status_code
            assert problem["code"]

    send()
    assert len(answered) >= 200
    assert sum(400 <= status < 500 for status in answered) >= 200
