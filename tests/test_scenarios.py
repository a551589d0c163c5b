"""Every shipped scenario loads (control plane, `serve --scenario`) and behaves as its file says; bad
scenario files get errors naming the file, the line, the path and the problem."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from sequin_emulator.domain.tenant import Tenants
from sequin_emulator.launcher import running_emulator
from sequin_emulator.scenario import ScenarioError, load_file
from tests.conftest import Api

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.fixture
def loaded(start_emulator):
    """`loaded(name)`: a tenant on an emulator of its own with the shipped scenario `name` loaded, and its ids."""
    def load(name: str) -> tuple[Api, dict]:
        api = start_emulator(f"scenario-{name}")
        return api, api.ok("POST", "/_emulator/scenario", yaml.safe_load((FIXTURES / name).read_text()))
    return load


def test_stripe_basic(loaded):
    api, ids = loaded("stripe-basic.yaml")
    sync = api.ok("GET", f"/v1/syncs/{ids['syncs']['Acme Stripe']}")
    assert sync["initial_backfill_completed_at"] is not None and sync["health"]["status"] == "healthy"
    records = api.next({"id": ids["consumers"]["worker"]}, 1000)["data"]
    by_collection: dict[str, list[dict]] = {}
    for message in records:
        by_collection.setdefault(message["record"]["collection_id"], []).append(message["record"])
    credential = ids["credentials"]["stripe"]
    upstream = {c: len(api.upstream(credential, c)) for c in by_collection}
    assert {c: len(r) for c, r in by_collection.items()} == upstream  # everything upstream, once
    assert upstream["stripe:customer"] == 26 and upstream["stripe:subscription"] == 25  # 25 of each, and Paul
    assert upstream["stripe:invoice"] >= 25  # one per billed period
    assert "paul@arrakis.example" in {r["data"]["email"] for r in by_collection["stripe:customer"]}
    api.ack({"id": ids["consumers"]["worker"]}, [m["ack_token"] for m in records])
    api.ok("POST", "/_emulator/clock/advance", {"by": "1h"})
    assert api.next({"id": ids["consumers"]["worker"]}, 10)["data"] == []  # quiet: no changes of its own


def test_hubspot_crm(loaded):
    api, ids = loaded("hubspot-crm.yaml")
    contacts = api.next({"id": ids["consumers"]["contacts"]}, 1000)["data"]
    assert len(contacts) == 40 and {m["record"]["collection_id"] for m in contacts} == {"hubspot:contact"}
    assert len(api.next({"id": ids["consumers"]["everything"]}, 1000)["data"]) == 120
    api.ok("POST", "/_emulator/clock/advance", {"by": "4h"})  # 30 changes an hour, polled every 4 hours
    assert len(api.next({"id": ids["consumers"]["everything"]}, 1000)["data"]) > 50


def test_faults(loaded):
    api, ids = loaded("faults.yaml")
    health = {name: api.ok("GET", f"/v1/syncs/{sid}")["health"] for name, sid in ids["syncs"].items()}
    assert health["Outage"]["status"] == "error" and health["Revoked"]["status"] == "error"
    assert health["Revoked"]["credential"]["status"] == "error"
    assert health["Throttled"]["status"] == "warn"
    records = api.next({"id": ids["consumers"]["watcher"]}, 1000)["data"]
    writers = {m["record"]["sync_id"] for m in records}
    assert ids["syncs"]["Throttled"] in writers and ids["syncs"]["Flaky"] in writers
    assert ids["syncs"]["Outage"] not in writers and ids["syncs"]["Revoked"] not in writers


def test_serve_loads_scenarios_at_start_each_into_its_own_tenant(tmp_path):
    own = tmp_path / "own.yaml"
    own.write_text("streams:\n  - slug: mine\n")  # no `token:`, so the tenant `demo`
    shipped = ["stripe-basic", str(FIXTURES / "hubspot-crm.yaml"), "faults"]
    with running_emulator(*[a for s in [*shipped, str(own)] for a in ("--scenario", s)]) as url:
        def names(token: str, what: str) -> list[str]:
            answer = httpx.get(f"{url}/v1/{what}", headers={"Authorization": f"Bearer {token}"}).json()["data"]
            return sorted(item.get("name") or item["slug"] for item in answer)
        assert names("stripe-basic", "syncs") == ["Acme Stripe"]
        assert names("hubspot-crm", "syncs") == ["CRM"]
        assert names("faults", "syncs") == ["Flaky", "Outage", "Revoked", "Throttled"]
        assert names("demo", "streams") == ["mine"]


def test_shipped_scenarios_combine_in_one_tenant(start_emulator):
    api = start_emulator("combined")
    loaded = {name: api.load(name) for name in ("stripe-basic", "hubspot-crm", "faults")}
    syncs = {s["name"] for s in api.ok("GET", "/v1/syncs")["data"]}
    assert syncs == {name for ids in loaded.values() for name in ids["syncs"]} and len(syncs) == 6
    assert {s["slug"] for s in api.ok("GET", "/v1/streams")["data"]} == {"main", "crm", "faults"}
    worker = loaded["stripe-basic"]["consumers"]["worker"]
    assert api.next({"id": worker}, 10)["data"], "the first scenario's sync still delivers"


@pytest.mark.parametrize(
    "text,expected",
    [
        (
            "streams:\n  - slug: main\nsyncs:\n  - name: x\n    stream: mian\n    credential: c\n"
            "    collection_ids: [stripe:customer]\n",
            ":5: syncs.0.stream: names no stream of this scenario or tenant ('mian')",
        ),
        ("streams:\n  - slug: Main!\n", ":2: streams.0.slug: must match the pattern"),
        ("streams:\n  - {slug: a}\n  - {slug: a}\n", ":3: streams.1.slug: repeats 'a'"),
        (
            "credentials:\n  - name: c\n    properties: {kind: stripe_key, secret: s}\n    objects:\n"
            "      - collection_id: stripe:customer\n        data: {email: nope}\n",
            ":6: credentials.0.objects.0.data.email: Invalid email address",
        ),
        ("syncs: [\n", ":2: not valid YAML or JSON"),
        ("- just\n- a list\n", ":1: a scenario is a mapping"),
        ("advance: soon\n", ":1: advance: must match the pattern"),
    ],
)
def test_bad_scenarios_name_file_line_path_and_problem(tmp_path, text, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as error:
        load_file(Tenants(), path)
    assert str(error.value).startswith(str(path)) and expected in str(error.value), str(error.value)


def test_serve_reports_a_bad_scenario_and_exits(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("streams:\n  - slug: Main!\n")
    result = subprocess.run([sys.executable, "-m", "sequin_emulator", "serve", "--port", "1", "--scenario", str(path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and f"{path}:2: streams.0.slug" in result.stderr


def test_the_control_plane_reports_paths(api):
    response = api.post("/_emulator/scenario", {"streams": [{"slug": "a"}], "consumers": [{"name": "c", "stream": "b"}]})
    assert response.status_code == 422 and list(response.json()["validation_errors"]) == ["consumers.0.stream"]


def test_shipped_scenarios_load_by_name_and_are_listed(start_emulator):
    listed = subprocess.run([sys.executable, "-m", "sequin_emulator", "scenarios"], capture_output=True, text=True,
                            timeout=60, check=True).stdout.splitlines()
    assert [line.split(":")[0] for line in listed] == ["faults", "hubspot-crm", "stripe-basic"]
    assert all(line.split(": ", 1)[1] for line in listed)  # each with its description
    api = start_emulator("by-name")
    ids = api.load("hubspot-crm")  # the test client takes a name as well as a path
    assert list(ids["syncs"]) == ["CRM"] and set(ids["consumers"]) >= {"contacts", "everything"}
    with running_emulator("--scenario", "stripe-basic") as url:
        syncs = httpx.get(f"{url}/v1/syncs", headers={"Authorization": "Bearer stripe-basic"}).json()["data"]
        assert [s["name"] for s in syncs] == ["Acme Stripe"]
    with pytest.raises(ScenarioError, match=r"no-such: no such file, nor a shipped scenario \(shipped: faults, "):
        load_file(Tenants(), "no-such")
