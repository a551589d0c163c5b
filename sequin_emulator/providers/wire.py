"""The interface of a provider's own API (Stripe's REST API, HubSpot's CRM API) as the HTTP layer drives it: the
HTTP layer finds the documented operation, the account and the caller's key, applies the account's faults, and
hands the wire API a `WireCall`; the wire API answers in its provider's encoding and envelope. No HTTP objects
cross this line, so a wire API is testable without a server."""

from __future__ import annotations

import base64
import binascii
import enum
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sequin_emulator.domain.upstream import Account


def presented_key(authorization: str) -> str | None:
    """The key an `Authorization` header presents: a bearer token, or basic auth's user name (Stripe's SDKs)."""
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(value).decode().split(":", 1)[0] or None
        except (binascii.Error, ValueError, UnicodeDecodeError):
            return None
    return None


def masked(key: str) -> str:
    """A key as an error message may show it."""
    return f"{key[:8]}{'*' * 12}{key[-4:]}" if len(key) > 12 else "****"


class Refusal(enum.Enum):
    """Why the HTTP layer answers without calling an operation; each provider words and codes it its own way."""

    ROUTE = "route"  # the document has no such path (404)
    METHOD = "method"  # the path does not serve the method (405)
    ACCOUNT = "account"  # no account of this provider at the address (404)
    KEY = "key"  # no key, or not the credential's (401)
    FAULT = "fault"  # the account's configured fault (401 revoked, 429 throttled, 500)
    BODY = "body"  # a body that cannot be read (too large)
    BUG = "bug"  # an unexpected exception of ours (500), logged


@dataclass(frozen=True)
class WireCall:
    """One request to an operation of the document, with the parts an operation reads."""

    operation: str  # its operationId in openapi/providers.yaml
    method: str
    path: str  # below the provider's base: `/v1/customers/cus_1`
    path_params: Mapping[str, str]
    query: list[tuple[str, str]]  # in order, repeated names kept
    headers: Mapping[str, str]  # names in lower case
    body: bytes
    now: int  # µs, the tenant's clock
    tag: str  # hex digits unique to this request under the emulator's seed (request ids)


@dataclass
class WireAnswer:
    status: int
    body: bytes | None  # None: no body (a 204)
    headers: dict[str, str] = field(default_factory=dict)


class WireApi(ABC):
    """A provider's API: one handler per operationId of its paths in the document (the app refuses to start when
    one is missing), the request decoding and the error envelope."""

    handlers: Mapping[str, Callable[..., Any]]

    @abstractmethod
    def answer(self, account: Account, call: WireCall) -> WireAnswer:
        """Run the call's operation on the account; a refused request is answered in the provider's envelope."""

    @abstractmethod
    def refusal(self, status: int, message: str, why: Refusal, tag: str) -> WireAnswer:
        """The provider's answer when the HTTP layer refuses a request before any operation runs."""
