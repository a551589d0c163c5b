"""sequin-emulator: a stateful, in-memory emulator of the Sequin API-sync service.

`sequin_emulator.mock()` runs it in-process for tests (see `sequin_emulator.in_process`); it is imported on first
use, so importing the package stays cheap."""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"
__all__ = ["MockError", "mock"]


def __getattr__(name: str) -> Any:
    """`mock` and `MockError`, from `sequin_emulator.in_process`, loaded on first use (by name: the package's own
    `__init__` is imported by every module of it, so a static import here would be a circle)."""
    if name in __all__:
        return getattr(importlib.import_module("sequin_emulator.in_process"), name)
    raise AttributeError(f"module 'sequin_emulator' has no attribute {name!r}")
