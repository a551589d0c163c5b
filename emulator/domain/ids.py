"""Deterministic UUIDs: the same seed, tenant and call sequence always give the same ids."""

from __future__ import annotations

import hashlib
import uuid


def derived_uuid(*parts: object) -> str:
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=16).digest()
    return str(uuid.UUID(bytes=digest, version=4))


class IdFactory:
    """Hands out UUIDs derived from (seed, namespace, counter): a tenant's ids do not depend on other tenants."""

    def __init__(self, seed: int, namespace: str) -> None:
        self.seed, self.namespace = seed, namespace
        self.count = 0

    def next(self) -> str:
        self.count += 1
        return derived_uuid(self.seed, self.namespace, self.count)
