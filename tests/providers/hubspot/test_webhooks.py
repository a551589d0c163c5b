"""A simulated HubSpot portal's app webhooks, driven by the official `hubspot-api-client`: settings and
subscriptions through its `webhooks` API (with the developer key as `hapikey`), the portal's changes sent to the
target URL in HubSpot's batched payload, signed so that the library's `Signature.is_valid` accepts them (v1 and
v3), and failed batches retried on the emulator's clock with their attempt number, 4xx answers given up."""

from __future__ import annotations

import time

import pytest
from hubspot import HubSpot
from hubspot.crm.contacts import SimplePublicObjectInput as ContactUpdate
from hubspot.crm.contacts import SimplePublicObjectInputForCreate as ContactInput
from hubspot.utils.signature import Signature
from hubspot.webhooks import ApiException as WebhooksApiException
from hubspot.webhooks import (
    SettingsChangeRequest,
    SubscriptionCreateRequest,
    SubscriptionPatchRequest,
    ThrottlingSettings,
)

from sequin_emulator.providers.hubspot.delivery import HubSpotWebhooks
from sequin_emulator.testing import Received, WebhookReceiver
from tests.providers.hubspot.test_api import TOKEN, Portal


def _app(portal: Portal) -> dict:
    return portal.sequin.get(f"/_emulator/upstream/{portal.sync['credential_id']}").json()["app"]


def _hooked(portal: Portal, receiver: WebhookReceiver, *subscriptions: tuple[str, str | None, bool]) -> dict:
    """The portal's app pointed at the receiver, with these (event type, property, active) subscriptions."""
    app, developer = _app(portal), HubSpot(api_key=TOKEN, host=portal.host).webhooks
    developer.settings_api.configure(app["app_id"], SettingsChangeRequest(
        target_url=receiver.url, throttling=ThrottlingSettings(max_concurrent_requests=5)))
    for event_type, name, active in subscriptions:
        developer.subscriptions_api.create(app["app_id"], SubscriptionCreateRequest(
            event_type=event_type, property_name=name, active=active))
    return app


def _entries(deliveries: list[Received]) -> list[dict]:
    return [entry for delivery in deliveries for entry in delivery.json()]


def _wait_entries(receiver: WebhookReceiver, count: int) -> list[dict]:
    deadline = time.monotonic() + 10
    while len(_entries(receiver.received)) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    return _entries(receiver.received)


def test_the_apps_subscriptions_are_sent_in_signed_batches(portal, receiver):
    app = _hooked(portal, receiver, ("contact.creation", None, True), ("contact.propertyChange", "email", True),
                  ("contact.deletion", None, False))
    developer = HubSpot(api_key=TOKEN, host=portal.host).webhooks
    settings = developer.settings_api.get_all(app["app_id"])
    assert settings.target_url == receiver.url and settings.throttling.max_concurrent_requests == 5
    listed = developer.subscriptions_api.get_all(app["app_id"]).results
    assert [(s.event_type, s.property_name, s.active) for s in listed] == [
        ("contact.creation", None, True), ("contact.propertyChange", "email", True), ("contact.deletion", None, False)]

    contacts = portal.client.crm.contacts.basic_api
    made = contacts.create(ContactInput(properties={"email": "ada@example.com", "firstname": "Ada"}))
    entries = _wait_entries(receiver, 2)
    assert sorted(e["subscriptionType"] for e in entries) == ["contact.creation", "contact.propertyChange"]
    change = next(e for e in entries if e["subscriptionType"] == "contact.propertyChange")
    assert change["propertyName"] == "email" and change["propertyValue"] == "ada@example.com"
    for entry in entries:
        assert entry["objectId"] == int(made.id) and entry["appId"] == app["app_id"]
        assert entry["portalId"] == int(portal.sync["credential"]["properties"]["hub_id"])  # the credential's hub
        assert entry["attemptNumber"] == 0 and entry["changeSource"] == "API"
        assert entry["subscriptionId"] in {int(s.id) for s in listed}

    delivery = receiver.received[0]
    headers, raw = delivery.headers, delivery.body.decode()
    assert Signature.is_valid(signature=headers["x-hubspot-signature-v3"], client_secret=app["client_secret"],
                              request_body=raw, http_uri=receiver.url, http_method="POST", signature_version="v3",
                              timestamp=headers["x-hubspot-request-timestamp"])
    assert Signature.is_valid(signature=headers["x-hubspot-signature"], client_secret=app["client_secret"],
                              request_body=raw, signature_version=headers["x-hubspot-signature-version"])
    assert not Signature.is_valid(signature=headers["x-hubspot-signature-v3"], client_secret="wrong-secret",
                                  request_body=raw, http_uri=receiver.url, signature_version="v3",
                                  timestamp=headers["x-hubspot-request-timestamp"])

    sent = len(entries)
    contacts.update(made.id, ContactUpdate(properties={"firstname": "Augusta"}))  # no subscription to firstname
    contacts.update(made.id, ContactUpdate(properties={"email": "augusta@example.com"}))
    entries = _wait_entries(receiver, sent + 1)
    assert [(e["propertyName"], e["propertyValue"]) for e in entries[sent:]] == [("email", "augusta@example.com")]

    [deletion] = [s for s in listed if s.event_type == "contact.deletion"]
    contacts.archive(made.id)  # its subscription is off: not sent
    developer.subscriptions_api.update(deletion.id, app["app_id"], SubscriptionPatchRequest(active=True))
    other = contacts.create(ContactInput(properties={"firstname": "Grace"}))  # no email: only the creation
    contacts.archive(other.id)
    entries = _wait_entries(receiver, sent + 3)
    assert sorted((e["subscriptionType"], e["objectId"]) for e in entries[sent + 1:]) == [
        ("contact.creation", int(other.id)), ("contact.deletion", int(other.id))]  # in either order, as on HubSpot
    time.sleep(0.2)
    assert len(_entries(receiver.received)) == sent + 3


def test_the_webhooks_api_refuses_other_apps_keys_and_bad_subscriptions(portal, receiver):
    app = _app(portal)
    developer = HubSpot(api_key=TOKEN, host=portal.host).webhooks
    with pytest.raises(WebhooksApiException) as other_app:
        developer.settings_api.get_all(app["app_id"] + 1)
    assert other_app.value.status == 404
    with pytest.raises(WebhooksApiException) as unset:
        developer.settings_api.get_all(app["app_id"])
    assert unset.value.status == 404 and "target URL" in unset.value.body
    with pytest.raises(WebhooksApiException) as wrong_key:
        HubSpot(api_key="not-the-key", host=portal.host).webhooks.subscriptions_api.get_all(app["app_id"])
    assert wrong_key.value.status == 401
    bearer = portal.sequin.http.get(f"{portal.host}/webhooks/v3/{app['app_id']}/subscriptions",
                                    headers={"Authorization": f"Bearer {TOKEN}"})
    assert bearer.status_code == 401  # the developer key goes in `hapikey`, as on HubSpot
    for event_type, name, words in (("contact.propertyChange", None, "propertyName is required"),
                                    ("contact.creation", "email", "only for propertyChange"),
                                    ("deal.propertyChange", "no_such_property", "does not exist")):
        with pytest.raises(WebhooksApiException) as refused:
            developer.subscriptions_api.create(app["app_id"], SubscriptionCreateRequest(
                event_type=event_type, property_name=name))
        assert refused.value.status == 400 and words in refused.value.body
    with pytest.raises(WebhooksApiException) as bad_url:
        developer.settings_api.configure(app["app_id"], SettingsChangeRequest(
            target_url="ftp://example.com/hooks", throttling=ThrottlingSettings(max_concurrent_requests=5)))
    assert bad_url.value.status == 400
    made = developer.subscriptions_api.create(app["app_id"], SubscriptionCreateRequest(event_type="deal.creation"))
    assert made.active is False  # HubSpot's default
    with pytest.raises(WebhooksApiException) as twice:
        developer.subscriptions_api.create(app["app_id"], SubscriptionCreateRequest(event_type="deal.creation"))
    assert twice.value.status == 409
    developer.subscriptions_api.archive(made.id, app["app_id"])
    assert developer.subscriptions_api.get_all(app["app_id"]).results == []


def test_failed_batches_are_retried_with_their_attempt_number_and_a_404_is_given_up(portal, receiver):
    receiver.status = 500
    app = _hooked(portal, receiver, ("company.creation", None, True))

    def attempts() -> list[int]:
        return [entry["attemptNumber"] for entry in _entries(receiver.received)]

    portal.client.crm.companies.basic_api.create({"properties": {"name": "Analytical Engines"}})
    receiver.wait_for(1)
    for step, expected in (("75s", [0, 1]), ("150s", [0, 1, 2])):  # 1 then 2 minutes, ±20 %
        _settled(portal, len(expected) - 1)
        portal.sequin.advance(step)
        receiver.wait_for(len(expected))
        assert attempts() == expected
    assert len({d.json()[0]["eventId"] for d in receiver.received}) == 1  # the same event each time
    receiver.status = 404
    _settled(portal, 2)
    portal.sequin.advance("300s")
    receiver.wait_for(4)
    _settled(portal, 3)
    portal.sequin.advance("1d")
    time.sleep(0.3)
    assert attempts() == [0, 1, 2, 3]  # a 404 is not retried
    assert app["client_secret"]


def _settled(portal: Portal, failures: int) -> None:
    """Wait until the journal has this many failed attempts of the app (so the retry is scheduled)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        attempts = portal.sequin.get("/_emulator/journal?limit=1000&webhook_endpoint_id=app").json()["data"]
        assert all(a["webhook"]["endpoint_id"] == "app" for a in attempts)
        if len(attempts) >= failures:
            return
        time.sleep(0.01)
    raise AssertionError(f"fewer than {failures} attempts in the journal")


def test_hubspots_retry_schedule():
    style = HubSpotWebhooks()
    waits = [style.retry_in(attempt, 500, None, 0.5) for attempt in range(1, 12)]
    assert waits[:3] == [60_000_000, 120_000_000, 240_000_000] and waits[10] is None
    assert sum(w for w in waits if w is not None) < 24 * 3600 * 1_000_000  # all ten within the day
    assert style.retry_in(1, 429, 2.0, 0.5) == 2_000_000  # Retry-After honoured
    assert [style.retry_in(1, status, None, 0.5) for status in (400, 401, 403, 404, 405)] == [None] * 5
    earliest, latest = style.retry_in(1, None, None, 0.0), style.retry_in(1, None, None, 0.99)
    assert earliest is not None and latest is not None and 48_000_000 <= earliest < latest <= 72_000_000


def test_the_app_survives_export_and_import_with_a_batch_waiting(portal, receiver):
    receiver.status = 503
    app = _hooked(portal, receiver, ("deal.creation", None, True))
    portal.client.crm.deals.basic_api.create({"properties": {"dealname": "Before export"}})
    receiver.wait_for(1)
    _settled(portal, 1)
    state = portal.sequin.get("/_emulator/state").json()
    saved = next(a for a in state["accounts"].values() if a.get("webhook_endpoints"))["webhook_endpoints"][0]
    assert saved["data"]["secret"] == app["client_secret"] and len(saved["out"]) == 1
    portal.sequin.request("PUT", "/_emulator/state", state).raise_for_status()
    receiver.status = 200
    portal.sequin.advance("2m")  # the waiting batch's retry
    _wait_entries(receiver, 2)
    portal.client.crm.deals.basic_api.create({"properties": {"dealname": "After import"}})
    entries = _wait_entries(receiver, 3)
    assert [e["attemptNumber"] for e in entries] == [0, 1, 0]
    assert len({e["eventId"] for e in entries}) == 2
    subscriptions = HubSpot(api_key=TOKEN, host=portal.host).webhooks.subscriptions_api.get_all(app["app_id"])
    assert [s.event_type for s in subscriptions.results] == ["deal.creation"]
