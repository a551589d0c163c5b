"""Deterministic UUIDs: the same seed, tenant and call sequence always give the same ids."""

from __future__ import annotations

import hashlib

_VARIANT = "89ab"


def derived_uuid(*parts: object) -> str:
    """A version-4-shaped UUID from a hash of `parts` (formatted by hand: this is on the hot path)."""
    h = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=16).hexdigest()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


class IdFactory:
    """Hands out UUIDs derived from (seed, namespace, counter): a tenant's ids do not depend on other tenants."""

    def __init__(self, seed: int, namespace: str) -> None:
        self.seed, self.namespace = seed, namespace
        self.count = 0

    def next(self) -> str:
        self.count += 1
        return derived_uuid(self.seed, self.namespace, self.count)
