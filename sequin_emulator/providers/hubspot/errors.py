"""HubSpot's error envelope, and what every HubSpot operation checks the same way: a body against the provider
document, an object type of a path."""

from __future__ import annotations

from typing import Any

from sequin_emulator.providers.document import body_validator
from sequin_emulator.providers.hubspot.definitions import PLURAL, SINGULAR


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


def collection_of(object_type: str) -> str:
    """The model's collection of a path's object type (`contacts`, or the singular `contact`)."""
    collection = SINGULAR.get(object_type) or (object_type if object_type in PLURAL else None)
    if collection is None:
        raise HubSpotError(400, f"Unable to infer object type from: {object_type[:100]}")
    return collection


def limit_of(value: Any, most: int, default: int = 10) -> int:
    if value is None:
        return default
    text = str(value) if isinstance(value, str | int) and not isinstance(value, bool) else "?"
    if not (text.isascii() and text.isdigit()) or len(text) > 6 or not 1 <= int(text) <= most:
        raise HubSpotError(400, f"limit must be a whole number from 1 to {most}, not {text[:20]}")
    return int(text)


def archived_flag(value: Any) -> bool:
    """The `archived` query parameter: `true` or `false` (once; in any case, as the official SDK sends `True`)."""
    if value is None or (isinstance(value, str) and value.lower() in ("true", "false")):
        return value is not None and value.lower() == "true"
    raise HubSpotError(400, f"archived must be true or false, not {str(value)[:20]}")
