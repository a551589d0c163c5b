"""The pytest plugin, as a user would use it (run with pytester in a separate pytest process)."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

USER_TESTS = f'''
def test_my_app_sees_the_backfilled_customers(sequin):
    ids = sequin.load("{FIXTURES / 'stripe-basic.yaml'}")
    records = sequin.drain(ids["consumers"]["worker"])
    emails = {{r["data"]["email"] for r in records if r["collection_id"] == "stripe:customer"}}
    customers = sequin.upstream(ids["credentials"]["stripe"], "stripe:customer")
    assert "paul@arrakis.example" in emails and len(emails) == len(customers) == 26

def test_each_test_has_its_own_tenant(sequin):
    assert sequin.get("/v1/streams").json() == {{"data": []}}

def test_upstream_changes_reach_the_app(sequin):
    ids = sequin.load("{FIXTURES / 'stripe-basic.yaml'}")
    consumer = ids["consumers"]["worker"]
    sequin.drain(consumer)
    customer = sequin.upstream(ids["credentials"]["stripe"], "stripe:customer")[0]["id"]
    sequin.inject(ids["credentials"]["stripe"], "delete", "stripe:customer", customer)
    sequin.advance("5s")
    changed = sequin.drain(consumer)
    [tombstone] = [r for r in changed if r["deleted"]]
    assert tombstone["collection_id"] == "stripe:customer" and tombstone["upstream_id"] == customer
    # Stripe cancels a deleted customer's subscriptions: they arrive too
    assert all(r["data"]["status"] == "canceled" for r in changed if r["collection_id"] == "stripe:subscription")

def test_my_webhook_handler_gets_signed_records(sequin, webhook_receiver):
    from sequin_emulator.testing import verify_signature
    ids = sequin.load("{FIXTURES / 'stripe-basic.yaml'}")
    hook = sequin.post("/v1/consumers/webhook", {{"name": "app", "url": webhook_receiver.url,
                                                "filters": {{"collection_id": "stripe:customer"}}}}).json()
    deliveries = webhook_receiver.wait_for(26)
    records = [verify_signature(d.body, d.headers, hook["secret"])["record"] for d in deliveries]
    assert {{r["upstream_id"] for r in records}} == {{
        c["id"] for c in sequin.upstream(ids["credentials"]["stripe"], "stripe:customer")}}
'''


@pytest.mark.parametrize("mode", [[], ["--sequin-inprocess"]], ids=["subprocess", "inprocess"])
def test_a_users_integration_tests_pass(pytester, mode):
    pytester.makepyfile(test_app=USER_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *mode)
    result.assert_outcomes(passed=4)


def test_a_running_emulator_can_be_reused(pytester):
    from sequin_emulator.launcher import running_emulator

    pytester.makepyfile(test_reuse="""
def test_uses_the_given_url(sequin, sequin_emulator):
    assert sequin_emulator.startswith("http://127.0.0.1:")
    assert sequin.post("/v1/streams", json={"slug": "x"}).status_code == 200
""")
    with running_emulator() as url:
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--sequin-url={url}")
    result.assert_outcomes(passed=1)


def test_under_xdist_every_worker_has_its_own_emulator(pytester):
    seen = pytester.path / "seen.txt"
    pytester.makepyfile(test_workers=f"""
import pytest

@pytest.mark.parametrize("n", range(6))
def test_worker(sequin, sequin_emulator, n, worker_id):
    assert sequin.post("/v1/streams", json={{"slug": f"s{{n}}"}}).status_code == 200
    with open({str(seen)!r}, "a") as out:
        out.write(f"{{worker_id}} {{sequin_emulator}}\\n")
""")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2")
    result.assert_outcomes(passed=6)
    pairs = {tuple(line.split()) for line in seen.read_text().splitlines()}
    workers, urls = {w for w, _ in pairs}, {u for _, u in pairs}
    assert workers == {"gw0", "gw1"} and len(urls) == 2  # one emulator per worker, each used by one worker


MARKED_TESTS = '''
import pytest
import stripe

@pytest.mark.sequin(scenario="stripe-basic")
def test_the_marker_loads_the_world_into_the_mock(sequin_mock):
    stripe.api_key = "sk_test_basic"
    assert len(stripe.Customer.list(limit=100).data) == 26

@pytest.mark.sequin(clock="manual", start_time="2030-05-01T00:00:00Z")
def test_the_marker_starts_the_clock(sequin_mock):
    assert sequin_mock.tenant.get("/_emulator/clock").json()["now"].startswith("2030-05-01")

@pytest.mark.sequin("stripe-basic", start_time="2031-01-01T00:00:00Z")
def test_the_marker_sets_up_the_session_emulators_tenant(sequin):
    assert [s["name"] for s in sequin.get("/v1/syncs").json()["data"]] == ["Acme Stripe"]
    assert sequin.get("/_emulator/clock").json()["now"].startswith("2031")

@pytest.mark.parametrize("n", range(4))
def test_each_marked_test_is_alone(sequin_mock, n):
    stripe.api_key = "sk_test_basic"
    assert sequin_mock.tenant.get("/v1/syncs").json()["data"] == []
    sequin_mock.tenant.load({"streams": [{"slug": "only"}]})
    assert len(sequin_mock.tenant.get("/v1/streams").json()["data"]) == 1
'''


def test_the_sequin_marker_states_a_tests_world_under_xdist(pytester):
    pytester.makepyfile(test_marked=MARKED_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2")
    result.assert_outcomes(passed=7)
