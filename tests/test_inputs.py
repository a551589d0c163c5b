"""The typed domain inputs and the spec agree field for field, and the spec's defaults are the ones applied."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from sequin_emulator.domain import inputs
from sequin_emulator.spec.bodies import _NONE, _default, parse
from sequin_emulator.spec.document import load_spec, operations, resolve

INPUTS = [cls for _, cls in inspect.getmembers(inputs, inspect.isclass)
          if dataclasses.is_dataclass(cls) and hasattr(cls, "SCHEMA")]
ALIASES = {"ack_wait"}  # folded into another field by the input's `normalize`


def _schema(cls) -> tuple[dict, str]:
    pointer = f"#/components/schemas/{cls.SCHEMA}"
    return resolve(load_spec(), {"$ref": pointer}, pointer)


def _object_schema(cls) -> tuple[dict, str]:
    """The schema of the form the input is built from (the import's `properties` form, for credentials)."""
    schema, pointer = _schema(cls)
    if "oneOf" in schema:
        pointer = schema["oneOf"][0]["$ref"]
        schema, pointer = resolve(load_spec(), {"$ref": pointer}, pointer)
    return schema, pointer


# bodies the HTTP layer reads itself (consume options, tokens, the clock, faults) or hands on whole as documents
READ_BY_HANDLERS = {"NextRequest", "AckTokens", "ClockSetting", "ClockAdvance", "Faults", "Scenario", "Snapshot"}


def _body_schema(op) -> str:
    node = load_spec()
    for part in op.body_pointer[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node["$ref"].rsplit("/", 1)[1]


def test_every_body_the_domain_takes_has_an_input():
    bodies = {_body_schema(op) for op in operations() if op.body_pointer}
    assert bodies - READ_BY_HANDLERS == {cls.SCHEMA for cls in INPUTS}


@pytest.mark.parametrize("cls", INPUTS, ids=lambda cls: cls.__name__)
def test_fields_are_the_schema_properties(cls):
    schema, _ = _object_schema(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    assert fields == set(schema["properties"]) - ALIASES


@pytest.mark.parametrize("cls", INPUTS, ids=lambda cls: cls.__name__)
def test_a_field_without_a_python_default_is_required_or_has_a_spec_default(cls):
    """So `parse` of any valid body builds the input: the spec, not the code, supplies what was left out."""
    schema, pointer = _object_schema(cls)
    for field in dataclasses.fields(cls):
        if field.default is dataclasses.MISSING:
            prop = schema["properties"][field.name]
            default = _default(prop, f"{pointer}/properties/{field.name}")
            assert field.name in schema.get("required", []) or default is not _NONE, (cls.__name__, field.name)


def test_update_inputs_have_no_defaults_in_the_spec():
    """A default on an update's field would overwrite what the client left alone."""
    for cls in INPUTS:
        if cls.__name__.endswith("Changes"):
            schema, pointer = _object_schema(cls)
            assert all(_default(prop, f"{pointer}/properties/{name}") is _NONE
                       for name, prop in schema["properties"].items()), cls.__name__


def test_parse_fills_the_spec_defaults_and_keeps_left_out_updates_unset():
    consumer = parse(inputs.NewConsumer, {"filters": {"collection_id": "stripe:customer"}, "ack_wait": 5000})
    assert (consumer.deliver_policy, consumer.ack_wait_ms, consumer.max_deliver, consumer.max_ack_pending) == (
        "all", 5000, -1, 1000)
    assert list(consumer.filters.items()) == [("provider", "*"), ("sync_id", "*"), ("collection_id", "stripe:customer")]
    assert consumer.stream_id is None and consumer.metadata == {}
    changes = parse(inputs.ConsumerChanges, {"max_deliver": 3})
    assert changes.max_deliver == 3 and changes.deliver_policy is inputs.UNSET
    assert inputs.given(changes) == {"max_deliver": 3}
    sync = parse(inputs.NewSync, {"name": "s", "collection_ids": ["stripe:customer"],
                                  "rate_limit": {"interval": 1, "allowed_requests": 5},
                                  "credential": {"kind": "stripe_key", "secret": "sk", "metadata": {"a": 1}}})
    assert (sync.status, sync.sync_frequency, sync.max_age_days, sync.metadata) == ("active", "continuous", None, {})
    assert sync.rate_limit == {"allowed_requests": 5, "interval": 1, "max_concurrent_requests": 0}
    assert sync.credential == inputs.CredentialImport(properties={"kind": "stripe_key", "secret": "sk"},
                                                      metadata={"a": 1})
    append = parse(inputs.RecordsAppend, {"sync_id": "x", "records": [{"collection_id": "c", "upstream_id": "u"}]})
    assert append.records == [inputs.AppendedRecord("c", "u", deleted=False, data={})]


def test_ack_wait_and_ack_wait_ms_must_agree():
    from sequin_emulator.domain.errors import Invalid

    with pytest.raises(Invalid) as refused:
        parse(inputs.NewConsumer, {"ack_wait": 5000, "ack_wait_ms": 6000})
    assert list(refused.value.errors) == ["ack_wait"]
    assert parse(inputs.NewConsumer, {"ack_wait": 5000, "ack_wait_ms": 5000}).ack_wait_ms == 5000
