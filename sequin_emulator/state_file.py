"""`--state FILE`: the whole emulator's state (every tenant's snapshot), loaded at start, saved at shutdown and,
with `--state-interval`, every so often while running.

The file holds every tenant's secrets (credential keys, OAuth client secrets), so it is written readable and
writable by its owner only (mode 0600).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import orjson

from sequin_emulator import sliced_json
from sequin_emulator.domain import snapshot
from sequin_emulator.domain.errors import Invalid
from sequin_emulator.domain.tenant import Tenant, Tenants
from sequin_emulator.spec.validation import validated

LOG = logging.getLogger("sequin_emulator.state")
SCHEMA = "#/components/schemas/StateFile"
MAX_DEPTH = 66  # a snapshot's 64 levels, inside {"tenants": {token: ...}}


def save(tenants: Tenants, path: str) -> None:
    """Write atomically (a crash while saving leaves the previous file whole), owner-only. Each tenant is encoded
    on its own: one that cannot be (a bug let a value JSON cannot hold into its state) is logged and left out,
    and every other tenant is still saved. (At shutdown: nothing else runs then.)"""
    encoded = {}
    for tenant in tenants:
        with _contained(tenant):
            encoded[tenant.token] = [sliced_json.dumps_now(snapshot.export(tenant))]
    _write_pieces(path, encoded)


async def save_while_serving(tenants: Tenants, path: str,
                             exclusive: Callable[[str], AbstractAsyncContextManager[None]]) -> None:
    """The same, while the server answers: each tenant encoded in slices during its turn (its other requests
    wait; every other tenant is served meanwhile), its pieces written by a worker thread, never joined whole."""
    encoded: dict[str, list[bytes]] = {}
    for tenant in tenants:
        async with exclusive(tenant.token):
            with _contained(tenant):
                encoded[tenant.token] = [chunk async for chunk in sliced_json.chunks(snapshot.export(tenant))]
    await asyncio.to_thread(_write_pieces, path, encoded)


@contextlib.contextmanager
def _contained(tenant: Tenant) -> Iterator[None]:
    try:
        yield
    except (TypeError, ValueError):
        LOG.exception("tenant %s could not be saved (its state holds a value JSON cannot); the others are",
                      tenant.org_id)


def _write_pieces(path: str, encoded: dict[str, list[bytes]]) -> None:
    """The state file `{"version", "tenants": {token: snapshot}}` from each tenant's JSON pieces, atomically."""
    temporary = Path(f"{path}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        os.fchmod(file.fileno(), 0o600)  # the file may have existed with wider rights
        file.write(b'{"version":' + orjson.dumps(snapshot.VERSION) + b',"tenants":{')
        for index, (token, pieces) in enumerate(encoded.items()):
            file.write((b"," if index else b"") + orjson.dumps(token) + b":")
            file.writelines(pieces)
        file.write(b"}}")
    os.replace(temporary, path)


def load(tenants: Tenants, path: str) -> None:
    """Load every tenant of a state file; a missing file is an empty start. A file that is not a whole, valid
    state file stops the start with a message naming what is wrong, before any tenant is touched."""
    file = Path(path)
    if not file.exists():
        return
    try:
        data = orjson.loads(file.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise SystemExit(f"{path}: not an emulator state file ({exc})") from None
    data, errors = validated(SCHEMA, data, max_depth=MAX_DEPTH)
    if errors:
        where, reasons = next(iter(errors.items()))
        raise SystemExit(f"{path}: not a valid emulator state file: {where}: {reasons[0]}")
    for token, state in data["tenants"].items():
        try:
            snapshot.restore(tenants, token, state)
        except Invalid as exc:
            raise SystemExit(f"{path}: tenant {token!r} could not be restored: {exc.summary}") from None
