"""The Collections API: what a credential's provider offers to sync, with each collection's fields."""

from __future__ import annotations

from sequin_emulator.domain.catalog import simulated
from sequin_emulator.domain.clock import MICROS
from sequin_emulator.domain.errors import NotFound
from sequin_emulator.domain.plugins import CollectionId
from sequin_emulator.domain.tenant import Tenant

REFRESH_TAKES = 2 * MICROS  # a refresh succeeds this long after it starts


def _collection(provider_name: str, collection: str) -> dict:
    cid = str(CollectionId(provider_name, collection))
    provider = simulated(provider_name)
    assert provider is not None  # collections are listed only for simulated providers
    fields = [{"id": f"{cid}:{f['name']}", "name": f["name"], "accessor": f.get("accessor", f["name"]),
               "type": f["type"], "primary_key": f.get("primary_key", False)}
              for f in provider.fields(collection)]
    return {"id": cid, "upstream_id": cid, "name": collection, "links": [], "fields": fields}


def list_for(tenant: Tenant, credential_id: str) -> list[dict]:
    """Every collection of the credential's provider; empty for providers the emulator does not simulate."""
    credential = tenant.credentials.get(credential_id)
    provider = simulated(credential.provider)
    return [] if provider is None else [_collection(provider.name, c) for c in provider.collections]


def get(tenant: Tenant, credential_id: str, collection_id: str) -> dict:
    found = next((c for c in list_for(tenant, credential_id) if c["id"] == collection_id), None)
    if found is None:
        raise NotFound(f"No collection {collection_id} for credential {credential_id}.")
    return found


def start_refresh(tenant: Tenant, credential_id: str) -> dict:
    credential = tenant.credentials.get(credential_id)
    previous = refresh_status(tenant, credential_id)
    credential.refresh = {"started": tenant.now(), "succeeded": previous["last_succeeded_at"]}
    return refresh_status(tenant, credential_id)


def refresh_status(tenant: Tenant, credential_id: str) -> dict:
    """`processing` for REFRESH_TAKES after a start, then `succeeded`. Times are epoch µs."""
    credential = tenant.credentials.get(credential_id)
    refresh = credential.refresh
    if refresh is None:
        return {"credential_id": credential_id, "last_started_at": credential.created_at,
                "last_succeeded_at": credential.created_at, "status": "succeeded", "error": None}
    done_at = refresh["started"] + REFRESH_TAKES
    done = tenant.now() >= done_at
    return {"credential_id": credential_id, "last_started_at": refresh["started"],
            "last_succeeded_at": done_at if done else refresh["succeeded"],
            "status": "succeeded" if done else "processing", "error": None}
