"""sequin-emulator: a stateful, in-memory emulator of the Sequin API-sync service."""

__version__ = "0.1.0"
