"""State export and import: snapshots round-trip exactly, and consumers resume exactly where they were."""

from __future__ import annotations

import contextlib
import json
import signal
from pathlib import Path

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sequin_emulator.domain.upstream import AccountSettings
from sequin_emulator.launcher import emulator_process
from tests.conftest import Api, emulator_api

OPERATIONS = st.lists(st.one_of(
    st.tuples(st.just("advance"), st.sampled_from(["1s", "30s", "10m"])),
    st.tuples(st.just("next"), st.integers(1, 30)),
    st.tuples(st.just("ack"), st.integers(0, 5)),
    st.tuples(st.just("nack"), st.integers(0, 5)),
    st.tuples(st.just("inject"), st.sampled_from(["insert", "update", "delete"])),
    st.tuples(st.just("sync"), st.sampled_from(["stripe:invoice", "stripe:price", "hubspot:deal"])),
), max_size=12)


def world(token: str) -> contextlib.AbstractContextManager[Api]:
    return emulator_api(token, accounts=AccountSettings(records_per_collection=3, changes_per_hour=60))


def play(api: Api, consumer: dict, sync: dict, operations, tokens: list[str]) -> list[str]:
    answers = []
    for op, arg in operations:
        if op == "advance":
            answers.append(api.post("/_emulator/clock/advance", {"by": arg}).text)
        elif op == "next":
            answer = api.post(f"/v1/http-consumers/{consumer['id']}/next", {"batch_size": arg})
            tokens += [m["ack_token"] for m in answer.json()["data"]]
            answers.append(answer.text)
        elif op in ("ack", "nack"):
            picked, tokens[:] = tokens[:arg], tokens[arg:]
            answers.append(str(api.post(f"/v1/http-consumers/{consumer['id']}/{op}", {"ack_tokens": picked}).status_code))
        elif op == "inject":
            live = api.get(f"/_emulator/upstream/{sync['credential_id']}/records?collection_id=stripe:customer").json()
            target = live["data"][0]["id"] if live["data"] else None
            body = {"kind": arg, "collection_id": "stripe:customer", "data": {}}
            if arg != "insert" and target:
                body["upstream_id"] = target
            answers.append(api.post(f"/_emulator/upstream/{sync['credential_id']}/changes", body).text)
        else:
            provider = arg.split(":")[0]
            properties = {"kind": "stripe_key", "secret": "sk_test_1"} if provider == "stripe" else \
                {"kind": "hubspot", "hub_id": 5, "refresh_token": "r"}
            answers.append(api.post("/v1/syncs", {"stream_id": consumer["stream_id"], "name": arg,
                                                  "collection_ids": [arg], "credential": {"properties": properties}}).text)
    return answers


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(before=OPERATIONS, after=OPERATIONS)
def test_export_import_export_is_identical_and_both_go_on_alike(before, after):
    with world("original") as original, world("copy") as copy:  # another emulator, another token
        _export_import_export(original, copy, before, after)


def _export_import_export(original: Api, copy: Api, before, after) -> None:
    stream = original.stream()
    consumer = original.consumer(stream["id"], ack_wait_ms=20000, max_deliver=3)
    sync = original.sync(stream["id"])
    tokens: list[str] = []
    play(original, consumer, sync, before, tokens)
    exported = original.get("/_emulator/state").content
    assert copy.request("PUT", "/_emulator/state", content=exported).status_code == 200
    assert copy.get("/_emulator/state").content == exported
    going_on = play(original, consumer, sync, after, list(tokens))
    assert original.request("PUT", "/_emulator/state", content=exported).status_code == 200  # back in time
    assert play(original, consumer, sync, after, list(tokens)) == going_on


def test_a_bad_snapshot_is_422_and_leaves_the_tenant_as_it_was(api):
    stream = api.stream()
    for bad in [{"version": 99}, {"version": 1}, {"version": 1, "clock": {"mode": "manual"}}]:
        response = api.request("PUT", "/_emulator/state", json=bad)
        assert response.status_code == 422, bad
    assert api.ok("GET", "/v1/streams") == {"data": [stream]}


def test_state_file_is_loaded_at_start_and_saved_on_shutdown(tmp_path):
    state = tmp_path / "state.json"
    serve = ("--state", str(state), "--records-per-collection", "3")

    def stop(process):
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0

    with emulator_process(*serve) as (process, url), httpx.Client(base_url=url, headers=KEEP, timeout=10) as http:
        stream = http.post("/v1/streams", json={"slug": "kept"}).json()
        consumer = http.post("/v1/http-consumers", json={"stream_id": stream["id"]}).json()
        sync = http.post("/v1/syncs", json={"stream_id": stream["id"], "name": "s", "collection_ids": ["stripe:customer"],
                                            "credential": {"properties": {"kind": "stripe_key", "secret": "sk"}}}).json()
        http.put("/_emulator/clock", json={"mode": "manual"})
        http.post("/_emulator/clock/advance", json={"by": "1s"})
        first = http.get(f"/v1/http-consumers/{consumer['id']}/next").json()
        before = http.get("/_emulator/state").content
        stop(process)
    assert state.exists()
    with emulator_process(*serve) as (process, url), httpx.Client(base_url=url, headers=KEEP, timeout=10) as http:
        assert http.get("/_emulator/state").content == before
        assert http.get(f"/v1/syncs/{sync['id']}").json()["name"] == "s"
        second = http.get(f"/v1/http-consumers/{consumer['id']}/next").json()
        assert second["data"][0]["record"]["upstream_id"] != first["data"][0]["record"]["upstream_id"]
        assert second["info"]["num_ack_pending"] == 2  # the first delivery is still out
        stop(process)


KEEP = {"Authorization": "Bearer keep"}


def test_a_tenant_that_cannot_be_saved_does_not_lose_the_others(tmp_path, caplog):
    """One bad stored value (here a number past 64 bits, put there behind every check's back) costs its own tenant's
    save, never every tenant's (#21)."""
    from sequin_emulator import state_file
    from sequin_emulator.domain.upstream import AccountSettings

    path = str(tmp_path / "state.json")
    with emulator_api("good", accounts=AccountSettings(records_per_collection=2, changes_per_hour=0)) as good:
        good.stream("kept")
        bad = type(good)(good.http, "bad")  # type: ignore[arg-type]  # the same in-process client
        credential = bad.ok("POST", "/v1/credentials", {"properties": {"kind": "stripe_key", "secret": "sk_test_b"}})
        bad.ok("GET", f"/_emulator/upstream/{credential['id']}")
        tenants = good.http.app.state.tenants  # type: ignore[attr-defined]  # the in-process app
        account = next(iter(tenants.get("bad").accounts.values()))
        next(iter(account.objects.values())).data["balance"] = 1 << 70
        state_file.save(tenants, path)
    assert "could not be saved" in caplog.text
    saved = json.loads(Path(path).read_text())
    assert list(saved["tenants"]) == ["good"] and saved["tenants"]["good"]["streams"][0]["slug"] == "kept"


def test_a_snapshot_encodes_the_same_in_slices_and_at_once():
    """The export (in slices, answering other tenants between them) and the shutdown save (at once) write the same
    bytes, lists longer than a slice included (#21)."""
    import asyncio

    from sequin_emulator import sliced_json
    from sequin_emulator.domain import snapshot

    with emulator_api("sliced", accounts=AccountSettings(records_per_collection=300, changes_per_hour=0)) as api:
        credential = api.ok("POST", "/v1/credentials", {"properties": {"kind": "stripe_key", "secret": "sk_test_s"}})
        api.ok("GET", f"/_emulator/upstream/{credential['id']}")
        tenant = api.http.app.state.tenants.get("sliced")  # type: ignore[attr-defined]  # the in-process app
        exported = snapshot.export(tenant)
        whole = sliced_json.dumps_now(exported)
        async def streamed() -> bytes:
            return b"".join([chunk async for chunk in sliced_json.chunks(exported)])

        assert asyncio.run(streamed()) == whole
        assert len(json.loads(whole)["accounts"][next(iter(tenant.accounts))]["objects"]) > sliced_json.SLICE
        assert api.http.get("/_emulator/state", headers=api.headers).content == whole
