"""Stripe's error envelope, shared by the API and its parameter rules."""

from __future__ import annotations

from typing import Any


class StripeError(Exception):
    """An answer in Stripe's error envelope: `{"error": {"type", "code", "message", "param"}}`."""

    def __init__(self, status: int, message: str, code: str | None = None, param: str | None = None,
                 kind: str = "invalid_request_error", **extra: Any) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.param, self.kind = status, message, code, param, kind
        self.extra = extra  # a card error's decline_code, charge, payment_intent

    def body(self) -> dict:
        error: dict[str, Any] = {"type": self.kind, "message": self.message, **self.extra}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.param:
            error["param"] = self.param
        return {"error": error}


def missing(collection: str, object_id: str) -> StripeError:
    return StripeError(404, f"No such {collection}: '{object_id}'", "resource_missing", "id")
