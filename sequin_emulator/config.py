"""How one emulator process is configured (from the CLI, the pytest plugin or a test)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sequin_emulator.domain.tenant import ClockStart
from sequin_emulator.domain.upstream import AccountSettings

DEFAULT_BODY_LIMIT = 1024 * 1024


@dataclass(frozen=True)
class ServerConfig:
    seed: int = 0
    api_keys: frozenset[str] | None = None  # None: any token is its own tenant
    clock: ClockStart = field(default_factory=ClockStart)
    accounts: AccountSettings = field(default_factory=AccountSettings)  # how new simulated accounts are shaped
    body_limit: int = DEFAULT_BODY_LIMIT
    validate_responses: bool = False  # check every answer against the spec (tests turn this on)
    demo: bool = False  # preload the `demo` token's tenant
    state_file: str | None = None  # loaded at start, saved on clean shutdown
    state_interval: float | None = None  # and saved this often (seconds) while running
    shutdown_timeout: float = 5.0  # seconds a stop waits for requests in flight before cutting them off
    scenarios: tuple[str, ...] = ()  # scenario files loaded at start
    tick_seconds: float = 0.05  # how often real and scaled clocks run the sync engine in the background
