"""The OpenAPI document itself: valid, complete for every operation, and its examples true to its schemas."""

from __future__ import annotations

import pytest
from openapi_spec_validator import validate

from sequin_emulator.spec.document import load_spec, operations, resolve
from sequin_emulator.spec.validation import schema_errors

SPEC = load_spec()
OPS = operations()


def test_document_is_valid_openapi_31():
    assert SPEC["openapi"].startswith("3.1")
    validate(SPEC)


def test_covers_the_whole_api_of_the_contract():
    paths = set(SPEC["paths"])
    for path in ["/v1/streams", "/v1/credentials", "/v1/credentials/start-auth", "/v1/oauth-apps", "/v1/syncs",
                 "/v1/collections/{credential_id}", "/v1/collections/{credential_id}/{collection_id}",
                 "/v1/collections/{credential_id}/refresh/start", "/v1/collections/{credential_id}/refresh/status",
                 "/v1/http-consumers", "/v1/http-consumers/{id}/next", "/v1/http-consumers/{id}/ack",
                 "/v1/http-consumers/{id}/nack", "/v1/mutations/run", "/link/oauth2/start/{token}",
                 "/link/oauth2/token", "/_emulator/health", "/_emulator/clock", "/_emulator/state"]:
        assert path in paths
    control = [op for op in OPS if op.path.startswith("/_emulator")]
    assert control and all(SPEC["paths"][op.path][op.method.lower()]["tags"] == ["Emulator"] for op in control)


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.operation_id)
def test_every_operation_documents_its_errors(op):
    codes = set(op.responses)
    assert any(code.startswith(("2", "3")) for code in codes)
    if op.secured:
        assert {"401", "429"} <= codes
    if op.body_pointer:
        assert {"400", "413", "422"} <= codes
    if any(p.location == "query" for p in op.parameters):
        assert "422" in codes
    if any(p.location == "path" for p in op.parameters):
        assert "404" in codes
    for code, response in op.responses.items():
        node, _ = resolve(SPEC, response, "")
        assert node.get("description")
        if code.startswith("4"):
            assert "application/json" in node["content"], (op.operation_id, code)


def test_every_create_links_to_its_get_update_and_delete():
    for create, resource in [("createStream", "Stream"), ("importCredential", "Credential"),
                             ("createOAuthApp", "OAuthApp"), ("createSync", "Sync"),
                             ("createHttpConsumer", "HttpConsumer"), ("createPostgresTarget", "PostgresTarget"),
                             ("createDbPostgresTarget", "DbPostgresTarget"),
                             ("createPostgresConsumer", "PostgresConsumer")]:
        op = next(o for o in OPS if o.operation_id == create)
        targets = {link["operationId"] for link in op.responses["200"]["links"].values()}
        assert {f"get{resource}", f"update{resource}", f"delete{resource}"} <= targets


def _media_examples(media: dict) -> dict:
    """A media type's `example` and its named `examples`, resolved."""
    found = {"": media["example"]} if "example" in media else {}
    found.update({f"-{name}": resolve(SPEC, example, "")[0]["value"] for name, example in media.get("examples", {}).items()})
    return {name: resolve(SPEC, value, "")[0] for name, value in found.items()}


def _examples():
    for op in OPS:
        item = SPEC["paths"][op.path][op.method.lower()]
        if "requestBody" in item:
            body, _ = resolve(SPEC, item["requestBody"], "")
            for name, example in _media_examples(body["content"]["application/json"]).items():
                yield pytest.param(op.body_pointer, example, id=f"{op.operation_id}-request{name}")
        for code, response in op.responses.items():
            node, _ = resolve(SPEC, response, "")
            for name, example in _media_examples(node.get("content", {}).get("application/json", {})).items():
                yield pytest.param(op.response_schema_pointer(int(code)), example, id=f"{op.operation_id}-{code}{name}")


@pytest.mark.parametrize("pointer,example", list(_examples()))
def test_examples_match_their_schemas(pointer, example):
    assert schema_errors(pointer, example) == {}


def test_every_operation_has_a_handler_and_every_handler_an_operation():
    from sequin_emulator.api.handlers import HANDLERS

    assert {op.operation_id for op in OPS} == set(HANDLERS)
