"""sequin-emulator: a stateful, in-memory emulator of the Sequin API-sync service.

`sequin_emulator.mock()` runs it in-process for tests (see `sequin_emulator.in_process`); it is imported on first
use, so importing the package stays cheap."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["MockError", "mock"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from sequin_emulator import in_process

        return getattr(in_process, name)
    raise AttributeError(f"module 'sequin_emulator' has no attribute {name!r}")
