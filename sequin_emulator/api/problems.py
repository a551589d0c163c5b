"""Every error the HTTP layer answers, in one catalogue: its status, its summary and its headers.

Domain errors (`sequin_emulator.domain.errors`) carry no status; `answer` maps them here. The pipeline's own failures
(auth, body parsing, size, rate limit, routing) are built by the functions below, so a status or a wording is
written once and tests can find each by name.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from sequin_emulator.domain.errors import (
    DomainError,
    Invalid,
    NotFound,
    Unauthorized,
    UpstreamRefused,
    UpstreamUnavailable,
)


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class ApiError(Exception):
    """A failure found by the HTTP layer itself; raise one of the catalogue's below."""

    def __init__(self, status: int, summary: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(summary)
        self.status, self.summary, self.headers = status, summary, headers or {}

    def response(self) -> JSONResponse:
        return error(self.status, self.summary, self.headers)


def error(status: int, summary: str, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    """The contract's error body: `{"summary": ...}`, plus `validation_errors` on a 422."""
    return JSONResponse({"summary": summary, **extra}, status_code=status, headers=headers)


# ------------------------------------------------------------------ domain errors

DOMAIN_STATUS: tuple[tuple[type[DomainError], int], ...] = ((Invalid, 422), (NotFound, 404), (Unauthorized, 401),
                                                             (DomainError, 422))


def answer(exc: DomainError) -> JSONResponse:
    if isinstance(exc, UpstreamRefused):
        return MutationFailure(400, exc.summary, exc.errors).response()
    if isinstance(exc, UpstreamUnavailable):
        return MutationFailure(504, exc.summary).response()
    status = next(status for kind, status in DOMAIN_STATUS if isinstance(exc, kind))
    if isinstance(exc, Invalid):
        return error(status, exc.summary, validation_errors=exc.errors)
    return error(status, exc.summary)


# ------------------------------------------------------------------ the pipeline's own

def malformed_authorization() -> ApiError:
    return ApiError(401, 'Missing or malformed Authorization header: expected "Bearer <token>".')


def key_not_accepted() -> ApiError:
    return ApiError(401, "This API key is not accepted by the emulator.")


def rate_limited(limit: int) -> ApiError:
    return ApiError(429, f"Too many requests: this organization is limited to {limit} per second; "
                         "retry after 1 second.", {"Retry-After": "1"})


def empty_body() -> ApiError:
    return ApiError(400, "The request body is empty; a JSON object is required.")


def not_json() -> ApiError:
    return ApiError(400, "The request body is not valid JSON.")


def not_an_object() -> ApiError:
    return ApiError(400, "The request body must be a JSON object.")


def too_large(limit: int) -> ApiError:
    return ApiError(413, f"The request body is over the {limit}-byte limit.")


def method_not_allowed(method: str, path: str, allowed: list[str]) -> ApiError:
    return ApiError(405, f"{method} is not allowed on {path}.", {"Allow": ", ".join(allowed)})


def head_not_allowed(path: str, allowed: list[str]) -> ApiError:
    return ApiError(405, f"HEAD is not allowed on {path}: its GET has effects.", {"Allow": ", ".join(allowed)})


def no_route(path: str) -> ApiError:
    return ApiError(404, f"No route matches {path}.")


def not_found_path(path: str, parameter: str, reason: str) -> NotFound:
    return NotFound(f"Nothing at {path}: {parameter} {reason}.")


def invalid_parameters(errors: dict[str, list[str]]) -> Invalid:
    return Invalid(errors, summary="The request has invalid query parameters.")


def invalid_body(errors: dict[str, list[str]]) -> Invalid:
    return Invalid(errors, summary="The request body has invalid fields.")


MUTATION_DOCS = ["https://sequin.io/docs/mutations/overview"]


class MutationFailure(ApiError):
    """A failure of the Mutation API in the envelope Sequin's mutation pages show: `{"error": "Error: ...",
    "docs": [...]}` (plus `validation_errors`, the fields at fault, when the upstream named them)."""

    def __init__(self, status: int, message: str, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(status, message)
        self.errors = errors or {}

    def response(self) -> JSONResponse:
        body = {"error": f"Error: {self.summary}", "docs": MUTATION_DOCS,
                **({"validation_errors": self.errors} if self.errors else {})}
        return JSONResponse(body, status_code=self.status)


def awaited_consumers_late(why: str) -> ApiError:
    return MutationFailure(500, f"the mutation was written, but not every awaited consumer acked its records ({why})")


def internal(exc: Exception) -> ApiError:
    return ApiError(500, f"Internal error in the emulator (a bug; please report it): {type(exc).__name__}.")
