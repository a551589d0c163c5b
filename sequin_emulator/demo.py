"""Demo data for `sequin-emulator serve --demo`: the `demo` token's organization, ready to consume."""

from __future__ import annotations

from sequin_emulator.domain import consumers, streams, syncs
from sequin_emulator.domain.inputs import NewConsumer, NewStream, NewSync
from sequin_emulator.domain.tenant import Tenants
from sequin_emulator.spec.bodies import parse

DEMO_TOKEN = "demo"


def load_demo(tenants: Tenants) -> None:
    tenant = tenants.get(DEMO_TOKEN)
    stream = streams.create(tenant, NewStream("demo"))
    sync = syncs.create(tenant, parse(NewSync, {
        "stream_id": stream.id, "name": "Demo - Stripe", "collection_ids": ["stripe:customer", "stripe:invoice"],
        "credential": {"properties": {"kind": "stripe_key", "name": "Demo Stripe", "secret": "sk_test_demo", "test": True}},
    }))
    syncs.create(tenant, parse(NewSync, {
        "stream_id": stream.id, "name": "Demo - HubSpot", "collection_ids": ["hubspot:contact", "hubspot:company"],
        "credential": {"properties": {"kind": "hubspot", "hub_id": 4242, "hub_domain": "demo.hubspot.com",
                                      "refresh_token": "demo-refresh-token"}},
    }))
    consumers.create(tenant, parse(NewConsumer, {"stream_id": stream.id, "name": "demo-consumer",
                                                 "metadata": {"sync_id": sync.id}}))
