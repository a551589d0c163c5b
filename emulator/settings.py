"""How one emulator process is configured (from the CLI, the pytest plugin or a test)."""

from __future__ import annotations

from dataclasses import dataclass, field

from emulator.domain.tenant import ClockSettings

DEFAULT_BODY_LIMIT = 1024 * 1024


@dataclass(frozen=True)
class Settings:
    seed: int = 0
    api_keys: frozenset[str] | None = None  # None: any token is its own tenant
    clock: ClockSettings = field(default_factory=ClockSettings)
    body_limit: int = DEFAULT_BODY_LIMIT
    validate_responses: bool = False  # check every answer against the spec (tests turn this on)
    demo: bool = False  # preload the `demo` token's tenant
