"""What the provider API tests share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sequin_emulator.testing import WebhookReceiver


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    """A real HTTP server that keeps the webhooks it receives (answering 200 unless told otherwise)."""
    with WebhookReceiver() as running:
        yield running
