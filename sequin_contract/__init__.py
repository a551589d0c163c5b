"""The contract-test kit of sequin-emulator: checks that a deployment, emulated or real, honours the API the
emulator's spec describes.

    sequin-emulator contract [--base-url URL --api-key KEY] [--live]       # the whole kit
    python -m pytest --pyargs sequin_contract --sequin-base-url URL --sequin-api-key KEY
    sequin-emulator schemathesis --base-url URL --api-key KEY [-- SCHEMATHESIS ARGS]

With no target it starts an emulator itself. It needs the `contract` extra: `pip install 'sequin-emulator[contract]'`.
Shipped under a name of its own, so it never shadows a project's own `contract_tests/`.
"""

from __future__ import annotations

import importlib.util

EXTRA = "contract"
NEEDS = ("pytest", "schemathesis")


def missing_extra() -> str | None:
    """What to tell a user who installed sequin-emulator without the kit's extra, or None if it is there."""
    missing = [name for name in NEEDS if importlib.util.find_spec(name) is None]
    if not missing:
        return None
    return (f"the contract-test kit needs {' and '.join(missing)}, from the `{EXTRA}` extra: "
            f"pip install 'sequin-emulator[{EXTRA}]'")
