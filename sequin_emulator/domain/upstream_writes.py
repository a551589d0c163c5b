"""Reads and writes of a simulated upstream account from outside: the control plane and the Mutation API."""

from __future__ import annotations

from sequin_emulator.domain import accounts
from sequin_emulator.domain.errors import Invalid
from sequin_emulator.domain.inputs import UpstreamChange
from sequin_emulator.domain.plugins import CollectionId
from sequin_emulator.domain.tenant import Tenant
from sequin_emulator.domain.upstream import Account, Change


def collection_of(account: Account, collection_id: str, path: str = "collection_id") -> str:
    """The provider's name of a collection id of this account (`stripe:customer` → `customer`), else 422."""
    given = CollectionId.parse(collection_id)
    if given.provider != account.provider.name or given.name not in account.provider.collections:
        raise Invalid.field(path, f"is not a collection of this {account.provider.name} account")
    return given.name


def apply(tenant: Tenant, account: Account, kind: str, collection: str, upstream_id: str | None, data: dict,
          path: str = "upstream_id") -> Change:
    """One `insert`, `update` or `delete`, validated by the provider, at the tenant's current time."""
    provider, now = account.provider, tenant.now()
    if kind == "insert":
        return provider.insert(account, collection, data, now)
    if not upstream_id:
        raise Invalid.field(path, f"is required to {kind} a record")
    if kind == "update":
        return provider.update(account, collection, upstream_id, data, now)
    return provider.delete(account, collection, upstream_id, now)


def inject(tenant: Tenant, credential_id: str, change: UpstreamChange) -> Change:
    """A change made upstream, as if by someone else: syncs see it at their next poll."""
    account = accounts.account_for(tenant, tenant.credentials.get(credential_id))
    collection = collection_of(account, change.collection_id)
    return apply(tenant, account, change.kind, collection, change.upstream_id, change.data)


def live_objects(tenant: Tenant, credential_id: str, collection_id: str) -> list[dict]:
    account = accounts.account_for(tenant, tenant.credentials.get(credential_id))
    return [obj.data for obj in account.live(collection_of(account, collection_id))]
