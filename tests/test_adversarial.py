"""What an adversarial client sends must never produce a 500, hang the server, or lose data.

One test per finding of the robustness review, through the public interface (HTTP, scenario and state files).
"""

from __future__ import annotations

import contextlib

import orjson
import pytest

from tests.conftest import Api

HUB = {"kind": "hubspot", "hub_id": 77, "refresh_token": "rt"}


def _raw(api: Api, method: str, path: str, body: bytes):
    return api.request(method, path, content=body, headers={"Content-Type": "application/json"})


def _nested(levels: int, leaf=None, key: str | None = "a"):
    value = leaf if leaf is not None else {}
    for _ in range(levels - 1):
        value = {key: value} if key is not None else [value]
    return value


# ------------------------------------------------------------------ integral floats are integers

def test_integral_floats_reach_the_domain_as_ints(api):
    stream = api.stream()
    consumer = api.ok("POST", "/v1/http-consumers", {"stream_id": stream["id"], "ack_wait_ms": 2000.0,
                                                     "max_deliver": -1.0, "metadata": {"kept": 2.0}})
    assert consumer["ack_wait_ms"] == 2000 and consumer["max_deliver"] == -1
    assert b'"kept":2.0' in api.get(f"/v1/http-consumers/{consumer['id']}").content  # free-form values as sent
    assert b'"ack_wait_ms":2000,' in api.get(f"/v1/http-consumers/{consumer['id']}").content


def test_an_integral_float_hub_id_is_the_same_portal(api):
    one = api.ok("POST", "/v1/credentials", {"properties": HUB})
    two = api.ok("POST", "/v1/credentials", {"properties": {**HUB, "hub_id": 77.0}})
    assert one["id"] == two["id"] and len(api.ok("GET", "/v1/credentials")["data"]) == 1


def test_integral_float_account_settings_keep_the_engine_running(api):
    credential = api.ok("POST", "/v1/credentials", {"properties": HUB})
    settings = api.ok("PUT", f"/_emulator/upstream/{credential['id']}/settings",
                      {"history_days": 2.0, "records_per_collection": 5.0, "changes_per_hour": 60.0})
    assert settings["history_days"] == 2 and settings["records_per_collection"] == 5
    sync = api.sync(api.stream()["id"], credential=None, credential_id=credential["id"],
                    collection_ids=["hubspot:contact"])
    api.ok("POST", "/_emulator/clock/advance", {"by": "2h"})
    assert api.ok("GET", f"/v1/syncs/{sync['id']}")["initial_backfill_completed_at"] is not None
    assert len(api.ok("GET", f"/_emulator/upstream/{credential['id']}/records?collection_id=hubspot:contact")["data"]) >= 5


def test_integral_floats_in_a_scenario(api):
    ids = api.ok("POST", "/_emulator/scenario", {
        "account_defaults": {"history_days": 3.0, "records_per_collection": 2.0},
        "credentials": [{"name": "hub", "properties": HUB}],
        "syncs": [{"name": "s", "credential": "hub", "collection_ids": ["hubspot:company"]}],
        "advance": "1m"})
    records = api.ok("GET", f"/_emulator/upstream/{ids['credentials']['hub']}/records?collection_id=hubspot:company")
    assert len(records["data"]) == 2


# ------------------------------------------------------------------ nesting depth

@pytest.mark.parametrize("levels", [33, 250, 1000])
def test_deep_metadata_is_refused_before_it_is_stored(api, levels):
    stream = api.stream()
    response = _raw(
        api,
        "POST",
        "/v1/http-consumers",
        orjson.dumps({"stream_id": stream["id"], "metadata": _nested(levels)})
        if levels < 250
        else b'{"stream_id": "%s", "metadata": ' % stream["id"].encode() + b'{"a":' * levels + b"1" + b"}" * levels + b"}",
    )
    assert response.status_code == 422, response.text
    [(path, reasons)] = response.json()["validation_errors"].items()
    assert path.startswith("metadata.a.a") and reasons == ["nests deeper than 32 levels"]
    assert api.ok("GET", "/v1/http-consumers")["data"] == []
    assert api.get("/_emulator/state").status_code == 200


def test_deep_arrays_are_a_422_not_a_recursion_error(api):
    response = _raw(api, "POST", "/v1/streams", b'{"slug": ' + b"[" * 1000 + b"]" * 1000 + b"}")
    assert response.status_code == 422 and "nests deeper" in response.text


def test_deep_record_data_is_refused_everywhere_records_are_written(api):
    stream = api.stream()
    sync = api.sync(stream["id"])
    deep = _nested(40)
    appended = api.post(f"/_emulator/streams/{stream['id']}/records",
                        {"sync_id": sync["id"], "records": [{"collection_id": "stripe:customer", "upstream_id": "c",
                                                             "data": deep}]})
    injected = api.post(f"/_emulator/upstream/{sync['credential_id']}/changes",
                        {"kind": "insert", "collection_id": "stripe:customer", "data": {"metadata": deep}})
    mutated = api.post("/v1/mutations/run", {"kind": "create", "sync_id": sync["id"], "collection_id": "stripe:customer",
                                             "records": [{"data": {"name": "ok"}}, {"data": {"metadata": deep}}]})
    assert [r.status_code for r in (appended, injected, mutated)] == [422, 422, 422]
    assert api.ok("GET", f"/_emulator/upstream/{sync['credential_id']}/records?collection_id=stripe:customer")["data"] == []
    consumer = api.consumer(stream["id"])
    assert api.next(consumer)["data"] == []


def test_a_deep_metadata_filter_is_a_422(api):
    response = api.get("/v1/syncs", params={"metadata": '{"a":' * 300 + "1" + "}" * 300})
    assert response.status_code == 422


def test_values_at_the_depth_limit_survive_export_import_and_a_second_export(api):
    stream = api.stream()
    sync = api.sync(stream["id"], metadata=_nested(31))
    api.post(f"/_emulator/streams/{stream['id']}/records",
             {"sync_id": sync["id"], "records": [{"collection_id": "stripe:customer", "upstream_id": "c",
                                                  "data": _nested(30)}]})
    exported = api.ok("GET", "/_emulator/state")
    assert api.ok("PUT", "/_emulator/state", exported)["imported"] is True
    assert api.ok("GET", "/_emulator/state") == exported


# ------------------------------------------------------------------ accounts too large to honour

def test_account_sizes_have_a_bound_the_server_can_honour(api):
    credential = api.ok("POST", "/v1/credentials", {"properties": HUB})
    response = api.put(f"/_emulator/upstream/{credential['id']}/settings", {"records_per_collection": 1_000_000})
    assert response.status_code == 422
    assert "records_per_collection" in response.json()["validation_errors"]



# ------------------------------------------------------------------ mutations are all or nothing

def test_a_delete_naming_an_object_twice_is_refused_whole(api):
    sync = api.sync(api.stream()["id"])
    customer = api.ok("POST", f"/_emulator/upstream/{sync['credential_id']}/changes",
                      {"kind": "insert", "collection_id": "stripe:customer", "data": {"name": "Ann"}})["upstream_id"]
    response = api.post("/v1/mutations/run", {"kind": "delete", "sync_id": sync["id"], "collection_id": "stripe:customer",
                                              "upstream_ids": [customer, customer]})
    assert response.status_code == 422 and "upstream_ids" in response.json()["validation_errors"]
    live = api.ok("GET", f"/_emulator/upstream/{sync['credential_id']}/records?collection_id=stripe:customer")["data"]
    assert [c["id"] for c in live] == [customer]


# ------------------------------------------------------------------ stalls

def test_a_year_of_a_failing_sync_advances_quickly_and_stays_failing(api):
    sync = api.sync(api.stream()["id"])
    api.ok("PUT", f"/_emulator/upstream/{sync['credential_id']}/settings", {"outage": True})
    for by in ("365d", "999999d"):
        assert api.post("/_emulator/clock/advance", {"by": by}).status_code == 200
    health = api.ok("GET", f"/v1/syncs/{sync['id']}")["health"]
    assert health["status"] == "error" and "unavailable" in health["notes"][0]
    api.ok("PUT", f"/_emulator/upstream/{sync['credential_id']}/settings", {"outage": False})
    api.ok("POST", "/_emulator/clock/advance", {"by": "2m"})
    assert api.ok("GET", f"/v1/syncs/{sync['id']}")["health"]["status"] == "healthy"


def test_a_backfill_completes_when_requests_are_far_apart(api):
    credential = api.ok("POST", "/v1/credentials", {"properties": HUB})
    api.ok("PUT", f"/_emulator/upstream/{credential['id']}/settings", {"records_per_collection": 250})
    sync = api.sync(api.stream()["id"], credential=None, credential_id=credential["id"],
                    collection_ids=["hubspot:contact", "hubspot:deal"], rate_limit={"allowed_requests": 1, "interval": 5})
    api.ok("POST", "/_emulator/clock/advance", {"by": "1m"})
    done = api.ok("GET", f"/v1/syncs/{sync['id']}")["initial_backfill_completed_at"]
    # 6 pages (3 per collection), with a due poll between each two: the last page is the 11th request, at 50 s
    assert done == "2024-01-01T00:00:50.000000Z"


# ------------------------------------------------------------------ state import trusts nothing

def _tenant_with_everything(api: Api) -> dict:
    """A tenant with a stream, a sync mid-backfill, a consumer with a delivery out; returns its snapshot."""
    stream = api.stream()
    credential = api.ok("POST", "/v1/credentials", {"properties": HUB})
    api.ok("PUT", f"/_emulator/upstream/{credential['id']}/settings", {"records_per_collection": 150})
    sync = api.sync(stream["id"], credential=None, credential_id=credential["id"], collection_ids=["hubspot:contact"],
                    rate_limit={"allowed_requests": 1, "interval": 60})
    consumer = api.consumer(stream["id"])
    api.next(consumer)
    return api.ok("GET", "/_emulator/state") | {"_ids": {"sync": sync["id"], "consumer": consumer["id"],
                                                       "stream": stream["id"], "credential": credential["id"]}}


def _corruptions(snapshot: dict) -> list[tuple[str, dict, str]]:
    """(what, corrupted copy, the path the 422 must name) for each way the review broke an import."""
    ids = snapshot.pop("_ids")
    found = []

    def corrupt(what: str, path: str, change) -> None:
        copy = orjson.loads(orjson.dumps(snapshot))
        change(copy)
        found.append((what, copy, path))

    corrupt("a bogus clock mode", "clock.mode", lambda s: s["clock"].update(mode="bogus"))
    corrupt("a huge clock", "clock.now", lambda s: s["clock"].update(now=10**20))
    corrupt("a run naming a missing account", f"runs.{ids['sync']}.account_key",
            lambda s: s["runs"][ids["sync"]].update(account_key="nope"))
    corrupt("a bad sync frequency", "syncs.0.sync_frequency", lambda s: s["syncs"][0].update(sync_frequency="hourly"))
    corrupt("an unknown credential", "syncs.0.credential_id",
            lambda s: s["syncs"][0].update(credential_id="00000000-0000-4000-8000-000000000000"))
    corrupt("an unknown stream", "consumers.0.stream_id",
            lambda s: s["consumers"][0].update(stream_id="00000000-0000-4000-8000-000000000000"))
    corrupt("a cursor past the log", f"cursors.{ids['consumer']}.cursor",
            lambda s: s["cursors"][ids["consumer"]].update(cursor=10**6))
    corrupt("a delivery past the log", f"cursors.{ids['consumer']}.out.0",
            lambda s: s["cursors"][ids["consumer"]]["out"][0].__setitem__(1, 10**6))
    corrupt("a huge inserted_at", f"logs.{ids['stream']}.inserted_at.0",
            lambda s: s["logs"][ids["stream"]]["inserted_at"].__setitem__(0, 10**20))
    corrupt("non-numeric faults", "faults.latency_ms", lambda s: s["faults"].update(latency_ms="slow"))
    corrupt("a non-numeric error rate", f"accounts.{next(iter(snapshot['accounts']))}.settings.error_rate",
            lambda s: next(iter(s["accounts"].values()))["settings"].update(error_rate="often"))
    corrupt("a backfill of objects that do not exist", f"runs.{ids['sync']}.backfills.hubspot:contact.pending",
            lambda s: s["runs"][ids["sync"]]["backfills"]["hubspot:contact"].update(pending=["404"]))
    corrupt("a broken random state", f"runs.{ids['sync']}.rng.1",
            lambda s: s["runs"][ids["sync"]]["rng"].__setitem__(1, [1, 2, 3]))
    corrupt("a missing log", "logs", lambda s: s["logs"].clear())
    return found


def test_every_corrupt_snapshot_is_a_422_naming_the_path_and_the_tenant_stays(api):
    corruptions = _corruptions(_tenant_with_everything(api))
    before = api.ok("GET", "/_emulator/state")
    for what, corrupted, path in corruptions:
        response = api.put("/_emulator/state", corrupted)
        assert response.status_code == 422, (what, response.text)
        errors = response.json()["validation_errors"]
        assert any(key.startswith(path) for key in errors), (what, errors)
        assert api.ok("GET", "/_emulator/state") == before, what
    for call in [("GET", "/v1/syncs"), ("POST", "/_emulator/clock/advance"), ("PUT", "/_emulator/state"),
                 ("POST", "/_emulator/reset")]:
        body = {"by": "1h"} if call[1].endswith("advance") else before if call[0] == "PUT" else None
        assert api.request(*call, json=body).status_code == 200, call


def test_a_corrupt_state_file_stops_the_start_with_a_message(tmp_path, api):
    import subprocess
    import sys

    from sequin_emulator.launcher import free_port

    snapshot = _tenant_with_everything(api)
    snapshot.pop("_ids")
    for content in [b"\xff\xfe not json", b"[]", b'{"version": 2, "tenants": []}',
                    orjson.dumps({"version": 2, "tenants": {"t": {**snapshot, "clock": {"mode": "bogus"}}}})]:
        state = tmp_path / "state.json"
        state.write_bytes(content)
        result = subprocess.run([sys.executable, "-m", "sequin_emulator", "serve", "--port", str(free_port()),
                                 "--state", str(state)], capture_output=True, text=True, timeout=60)
        assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
        assert str(state) in result.stderr


# ------------------------------------------------------------------ the clock stays printable

def test_the_clock_stays_between_1970_and_9999(api):
    for body, field in [({"now": "9999-06-01T00:00:00Z"}, "now"), ({"now": "1969-12-31T23:59:59Z"}, "now"),
                        ({"now": "0001-01-01T00:00:00+05:00"}, "now"), ({"now": "9999-12-31T23:59:59-05:00"}, "now")]:
        response = api.put("/_emulator/clock", body)
        assert response.status_code == 422 and field in response.json()["validation_errors"], response.text
    assert api.post("/_emulator/clock/advance", {"by": "999999d999999d999999d"}).status_code == 422
    scenario = api.post("/_emulator/scenario", {"advance": "999999d999999d999999d999999d"})
    assert scenario.status_code == 422 and "advance" in scenario.json()["validation_errors"]
    assert api.ok("PUT", "/_emulator/clock", {"now": "9998-12-31T00:00:00Z"})["now"] == "9998-12-31T00:00:00.000000Z"
    assert api.ok("GET", "/v1/streams") == {"data": []} and api.ok("GET", "/_emulator/state")["version"] == 2


# ------------------------------------------------------------------ GETs with effects refuse HEAD

def test_head_on_next_delivers_nothing(api):
    stream = api.stream()
    sync = api.sync(stream["id"])
    consumer = api.consumer(stream["id"])
    api.write_records(sync, "cus_1")
    head = api.request("HEAD", f"/v1/http-consumers/{consumer['id']}/next")
    assert head.status_code == 405 and "GET" in head.headers["allow"]
    assert [m["record"]["upstream_id"] for m in api.next(consumer)["data"]] == ["cus_1"]


def test_head_on_an_oauth_link_leaves_it_usable(api):
    app = api.ok("POST", "/v1/oauth-apps", {"provider": "stripe", "client_id": "c", "client_secret": "s", "name": "a"})
    start = api.ok("POST", "/v1/credentials/start-auth", {"oauth_app_id": app["id"], "credential_kind": "stripe_oauth2",
                                                          "redirect_url": "https://acme.test/done"})["start_url"]
    assert api.http.head(start).status_code == 405
    assert api.http.get(start).status_code == 302


# ------------------------------------------------------------------ OAuth links

def test_oauth_links_of_tenants_sharing_a_snapshot_stay_apart(api, other):
    api.ok("POST", "/v1/oauth-apps", {"provider": "stripe", "client_id": "c", "client_secret": "s", "name": "a"})
    other.ok("PUT", "/_emulator/state", api.ok("GET", "/_emulator/state"))
    app_id = api.ok("GET", "/v1/oauth-apps")["data"][0]["id"]
    assert other.ok("GET", "/v1/oauth-apps")["data"][0]["id"] == app_id  # the same ids, on both sides
    body = {"oauth_app_id": app_id, "credential_kind": "stripe_oauth2"}
    mine = api.ok("POST", "/v1/credentials/start-auth", {**body, "redirect_url": "https://mine.test/"})["start_url"]
    theirs = other.ok("POST", "/v1/credentials/start-auth", {**body, "redirect_url": "https://theirs.test/"})["start_url"]
    assert mine != theirs
    assert api.http.get(mine).headers["location"].startswith("https://mine.test/")
    assert api.http.get(theirs).headers["location"].startswith("https://theirs.test/")


def test_the_start_url_ignores_a_forged_host_header(api):
    app = api.ok("POST", "/v1/oauth-apps", {"provider": "stripe", "client_id": "c", "client_secret": "s", "name": "a"})
    response = api.post("/v1/credentials/start-auth", {"oauth_app_id": app["id"], "credential_kind": "stripe_oauth2",
                                                       "redirect_url": "https://acme.test/"},
                        headers={"Host": "evil.example"})
    assert "evil.example" not in response.json()["start_url"]


# ------------------------------------------------------------------ scenario and command-line input

ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(6))


@pytest.mark.parametrize("content,message", [
    (ALIAS_BOMB.encode(), "expands to more than 100,000 values"),
    (b"streams:\n  - slug: caf\xe9\n", "is not UTF-8 text"),
    (b"a: &a [*a]\n", "refers to a value that contains it"),
    (b"[" * 2000 + b"]" * 2000, "nests too deeply"),
])
def test_bad_scenario_files_are_refused_with_a_message(tmp_path, content, message):
    import subprocess
    import sys

    from sequin_emulator.launcher import free_port

    path = tmp_path / "bad.yaml"
    path.write_bytes(content)
    result = subprocess.run([sys.executable, "-m", "sequin_emulator", "serve", "--port", str(free_port()), "--scenario",
                             str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_the_test_client_reads_scenario_files_with_the_same_checks(tmp_path):
    from sequin_emulator.scenario import ScenarioError
    from sequin_emulator.testing import TenantClient

    path = tmp_path / "bomb.yaml"
    path.write_text(ALIAS_BOMB)
    with pytest.raises(ScenarioError, match="expands to more than"):
        TenantClient("http://127.0.0.1:9").load(path)


@pytest.mark.parametrize("arguments", [["--start-time", "bogus"], ["--start-time", "10000-01-01T00:00:00Z"],
                                       ["--records-per-collection", "2.5"], ["--clock-scale", "0"],
                                       ["--history-days", "99999"]])
def test_bad_command_line_values_are_usage_errors(arguments):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "sequin_emulator", "serve", *arguments], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2 and arguments[0] in result.stderr and "Traceback" not in result.stderr


# ------------------------------------------------------------------ a bug in the engine stays in its tenant

def test_an_engine_failure_is_logged_and_contained_to_its_tenant(api, other, monkeypatch, caplog):
    from sequin_emulator.providers.stripe.model import Stripe

    broken_sync = api.sync(api.stream()["id"])
    healthy_sync = other.sync(other.stream()["id"])
    api.ok("PUT", f"/_emulator/upstream/{broken_sync['credential_id']}/settings", {"changes_per_hour": 3600})
    other.ok("PUT", f"/_emulator/upstream/{healthy_sync['credential_id']}/settings", {"changes_per_hour": 3600})

    def explode(self, account, now):
        raise RuntimeError("boom")

    monkeypatch.setattr(Stripe, "random_change", explode)
    assert api.post("/_emulator/clock/advance", {"by": "1h"}).status_code == 200
    assert "the sync engine failed" in caplog.text and "RuntimeError: boom" in caplog.text
    health = api.ok("GET", f"/v1/syncs/{broken_sync['id']}")["health"]
    assert health["status"] == "error" and "bug in the emulator" in health["notes"][0]
    assert api.get("/v1/streams").status_code == 200  # the tenant still answers
    monkeypatch.undo()
    assert other.post("/_emulator/clock/advance", {"by": "1h"}).status_code == 200  # others go on
    assert other.ok("GET", f"/v1/syncs/{healthy_sync['id']}")["health"]["status"] == "healthy"
    api.ok("POST", "/_emulator/reset")
    assert api.ok("GET", "/v1/syncs") == {"data": []}


# ------------------------------------------------------------------ tenants: bounded, and only busy ones ticked

def test_pristine_tenants_are_forgotten_past_the_limit_and_tenants_with_state_kept():
    from sequin_emulator.domain import streams
    from sequin_emulator.domain.inputs import NewStream
    from sequin_emulator.domain.tenant import Tenants

    tenants = Tenants()
    tenants.PRISTINE_LIMIT = 5
    streams.create(tenants.get("keeper"), NewStream("mine"))
    for n in range(50):
        tenants.get(f"curious-{n}")
    kept = {t.token for t in tenants}
    assert "keeper" in kept and len(kept) <= 10
    assert [s.slug for s in tenants.get("keeper").streams] == ["mine"]
    for n in range(40):  # tenants that all have state are never dropped, and no sweep runs per new tenant
        streams.create(tenants.get(f"busy-{n}"), NewStream("s"))
    assert {f"busy-{n}" for n in range(40)} <= {t.token for t in tenants}
    assert tenants._evicted_at >= 40


def test_the_ticker_visits_only_tenants_whose_engine_has_work(api):
    tenants = api.http.app.state.tenants
    api.sync(api.stream()["id"])
    for n in range(20):
        tenants.get(f"idle-{n}")
    tenant = tenants.get(api.headers["Authorization"].split()[1])
    tenant.clock.set(mode="real")
    assert [t.token for t in tenants.with_moving_engines()] == [tenant.token]


# ------------------------------------------------------------------ stopping

@contextlib.contextmanager
def _served(*arguments: str):
    """An emulator process and a client of it; both closed, and the process stopped, on the way out."""
    import httpx

    from sequin_emulator.launcher import emulator_process

    with emulator_process("--records-per-collection", "0", *arguments) as (process, url), \
            httpx.Client(base_url=url, headers={"Authorization": "Bearer t"}, timeout=30) as http:
        yield process, http


def test_sigterm_answers_waiting_requests_at_once_and_saves_the_state(tmp_path):
    import signal
    import threading
    import time

    state = tmp_path / "state.json"
    with _served("--state", str(state)) as (process, http):
        stream = http.post("/v1/streams", json={"slug": "s"}).json()
        consumer = http.post("/v1/http-consumers", json={"stream_id": stream["id"]}).json()
        sync = http.post("/v1/syncs", json={"stream_id": stream["id"], "name": "s", "collection_ids": ["stripe:customer"],
                                            "credential": {"properties": {"kind": "stripe_key", "secret": "sk"}}}).json()
        answers: dict[str, int] = {}

        def long_poll():
            answers["next"] = http.post(f"/v1/http-consumers/{consumer['id']}/next",
                                        json={"batch_size": 10, "wait_for": 59000}).status_code

        def awaited_mutation():
            answers["mutation"] = http.post("/v1/mutations/run", json={
                "kind": "create", "sync_id": sync["id"], "collection_id": "stripe:customer",
                "records": [{"data": {"name": "Ann"}}], "await_consumer_ids": [consumer["id"]],
                "await_consumers_timeout": 600000}).status_code

        threads = [threading.Thread(target=long_poll), threading.Thread(target=awaited_mutation)]
        for thread in threads:
            thread.start()
        time.sleep(0.5)
        asked = time.monotonic()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        took = time.monotonic() - asked
        for thread in threads:
            thread.join(timeout=10)
    assert took < 5, took
    assert answers == {"next": 200, "mutation": 500}
    assert state.exists() and state.stat().st_mode & 0o777 == 0o600
    assert stream["id"] in state.read_text()


def test_state_interval_saves_while_running_so_a_kill_loses_little(tmp_path):
    import time

    state = tmp_path / "state.json"
    with _served("--state", str(state), "--state-interval", "0.2") as (process, http):
        stream = http.post("/v1/streams", json={"slug": "kept"}).json()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not (state.exists() and stream["id"] in state.read_text()):
            time.sleep(0.05)
        process.kill()  # SIGKILL: no shutdown save
        process.wait()
    with _served("--state", str(state)) as (_, http):
        assert [s["slug"] for s in http.get("/v1/streams").json()["data"]] == ["kept"]


# ------------------------------------------------------------------ memory follows live data, not history

def test_history_every_reader_has_passed_is_forgotten(api):
    stream = api.stream()
    sync = api.sync(stream["id"], collection_ids=[f"stripe:{c}" for c in ("customer", "product", "price", "invoice",
                                                                         "subscription", "charge", "payment_intent")])
    consumer = api.consumer(stream["id"])
    api.ok("PUT", f"/_emulator/upstream/{sync['credential_id']}/settings", {"changes_per_hour": 6000})
    api.ok("POST", "/_emulator/clock/advance", {"by": "1h"})  # ~6,000 changes
    state = api.ok("GET", "/_emulator/state")
    [account] = state["accounts"].values()
    assert account["changes_base"] > 5_000 and len(account["changes"]) < 1000  # read by the one sync: dropped
    log = state["logs"][stream["id"]]
    live = sum(entry is not None for entry in log["entries"])
    assert state["last_idx"] > len(log["entries"])  # fewer slots than writes: superseded ones were compacted
    assert len(log["entries"]) <= max(1024, live) + live + 1
    delivered = api.next(consumer, batch_size=1000)
    assert len(delivered["data"]) == 1000 and delivered["info"]["num_pending"] == live - 1000
    assert api.ok("PUT", "/_emulator/state", state)["imported"] and api.ok("GET", "/_emulator/state") == state


def test_a_reset_or_an_import_wakes_a_waiting_long_poll():
    import threading
    import time

    with _served() as (_, http):
        for replace in ("reset", "import"):
            stream = http.post("/v1/streams", json={"slug": f"s-{replace}"}).json()
            consumer = http.post("/v1/http-consumers", json={"stream_id": stream["id"]}).json()
            saved = http.get("/_emulator/state").json() if replace == "import" else None
            answer: dict = {}

            def long_poll(consumer=consumer, answer=answer):
                started = time.monotonic()
                answer["status"] = http.post(f"/v1/http-consumers/{consumer['id']}/next",
                                             json={"wait_for": 30000}).status_code
                answer["took"] = time.monotonic() - started

            thread = threading.Thread(target=long_poll)
            thread.start()
            time.sleep(0.3)
            if replace == "reset":
                assert http.post("/_emulator/reset").status_code == 200
            else:
                assert http.put("/_emulator/state", json=saved).status_code == 200
            thread.join(timeout=20)
            # after a reset the consumer is gone (404); after the import it is back, with nothing to hand out
            assert answer["status"] == (404 if replace == "reset" else 200) and answer["took"] < 5, answer
