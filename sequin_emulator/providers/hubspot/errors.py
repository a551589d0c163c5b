"""HubSpot's error envelope, and the check of a request body against the provider document, for every HubSpot
operation."""

from __future__ import annotations

from typing import Any

from sequin_emulator.providers.document import body_validator


class HubSpotError(Exception):
    """An answer in HubSpot's envelope: `{"status": "error", "message", "correlationId", "category"}`."""

    def __init__(self, status: int, message: str, category: str = "VALIDATION_ERROR") -> None:
        super().__init__(message)
        self.status, self.message, self.category = status, message, category

    def body(self, correlation_id: str) -> dict:
        return {"status": "error", "message": self.message, "correlationId": correlation_id, "category": self.category}


def shaped(schema_name: str, body: Any) -> Any:
    """The body, if it has the shape the provider document gives the operation; else HubSpot's 400."""
    error = next(body_validator(schema_name).iter_errors(body), None)
    if error is None:
        return body
    where = "/".join(str(part) for part in error.instance_path) or "the body"
    raise HubSpotError(400, f"Invalid input JSON at {where[:200]}: {error.message[:300]}")
