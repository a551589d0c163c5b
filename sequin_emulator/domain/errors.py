"""Domain errors. The API layer turns each into its HTTP status and `{"summary": ...}` body."""

from __future__ import annotations


class DomainError(Exception):
    def __init__(self, summary: str) -> None:
        super().__init__(summary)
        self.summary = summary


class NotFound(DomainError):
    """No such resource in this tenant (404)."""

    @classmethod
    def resource(cls, kind: str, resource_id: str) -> NotFound:
        return cls(f"No {kind} with id {resource_id}.")


class Invalid(DomainError):
    """A schema or referential rule was broken (422). `errors` maps dotted field paths to reasons."""

    def __init__(self, errors: dict[str, list[str]], summary: str | None = None) -> None:
        if summary is None:
            field, reasons = next(iter(errors.items()))
            summary = f"Validation failed: {field} {reasons[0]}."
        super().__init__(summary)
        self.errors = errors

    @classmethod
    def field(cls, path: str, reason: str) -> Invalid:
        return cls({path: [reason]})


class Unauthorized(DomainError):
    """Credentials that do not open the resource, e.g. a wrong OAuth client secret (401)."""


class UpstreamRefused(DomainError):
    """The upstream account refused a write (the Mutation API's 400): its validation, or its credential.
    `errors` maps the mutation's dotted field paths to reasons, when the refusal names fields."""

    def __init__(self, summary: str, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(summary)
        self.errors = errors or {}


class UpstreamUnavailable(DomainError):
    """The upstream account did not answer a write in time: an outage, throttling, an error (the Mutation API's
    504)."""
