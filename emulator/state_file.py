"""`--state FILE`: the whole emulator's state (every tenant's snapshot), loaded at start, saved at shutdown."""

from __future__ import annotations

import os
from pathlib import Path

import orjson

from emulator.domain import snapshot
from emulator.domain.tenant import Tenants


def save(tenants: Tenants, path: str) -> None:
    """Write atomically: a crash while saving leaves the previous file whole."""
    data = {"version": snapshot.VERSION, "tenants": {t.token: snapshot.export(t) for t in tenants}}
    temporary = Path(f"{path}.tmp")
    temporary.write_bytes(orjson.dumps(data))
    os.replace(temporary, path)


def load(tenants: Tenants, path: str) -> None:
    """Load every tenant of a state file; a missing file is an empty start."""
    file = Path(path)
    if not file.exists():
        return
    try:
        data = orjson.loads(file.read_bytes())
        saved = data["tenants"]
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise SystemExit(f"{path}: not an emulator state file ({exc})") from None
    for token, state in saved.items():
        try:
            snapshot.restore(tenants, token, state)
        except Exception as exc:  # noqa: BLE001 - report any bad tenant with its file and token
            raise SystemExit(f"{path}: tenant {token!r} could not be restored: {getattr(exc, 'summary', exc)}") from None
