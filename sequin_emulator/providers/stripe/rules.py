"""Stripe's rules for the fields a customer or product write sets, with Stripe's error code and words for each
refusal: the model raises them as `Refused`, and the API renders the code it was given (never one guessed from
the words)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from sequin_emulator.domain.errors import Invalid

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
ADDRESS_FIELDS = ("city", "country", "line1", "line2", "postal_code", "state")
STRINGS = {"email", "name", "phone", "description", "url", "unit_label", "statement_descriptor"}
MAX_LENGTH = {"statement_descriptor": 22, "unit_label": 12, "name": 256, "description": 350 * 1000, "phone": 20}


@dataclass(frozen=True)
class Problem:
    code: str  # Stripe's error code (`parameter_invalid_integer`, `email_invalid`, ...)
    message: str  # Stripe's words


class Refused(Invalid):
    """A write Stripe refuses: `Invalid` for the control plane (422, by field), with Stripe's code per field for
    Stripe's own API (400)."""

    def __init__(self, problems: dict[str, Problem]) -> None:
        first = next(iter(problems.values()))
        super().__init__({path: [p.message] for path, p in problems.items()},
                         summary=f"Stripe rejected the request: {first.message}")
        self.problems = problems


def _invalid(kind: str, value: Any) -> Problem:
    return Problem(f"parameter_invalid_{kind}", f"Invalid {kind}: {json.dumps(value)[:50]}")


def _string_problem(key: str, value: Any) -> Problem | None:
    if value is None or (value == "" and key not in ("name",)):
        return None
    if not isinstance(value, str):
        return _invalid("string", value)
    if len(value) > MAX_LENGTH.get(key, 5000):
        return Problem("parameter_invalid_string",
                       f"Invalid string: must be at most {MAX_LENGTH.get(key, 5000)} characters")
    if key == "email" and not EMAIL.match(value):
        return Problem("email_invalid", "Invalid email address: " + value[:50])
    if key == "statement_descriptor" and (value.isdigit() or any(c in value for c in "<>\\'\"*")):
        return Problem("parameter_invalid_string",
                       "The statement descriptor must contain at least one letter and none of < > \\ ' \" *.")
    return None


def _metadata_problem(value: Any) -> Problem | None:
    if not isinstance(value, dict):
        return Problem("parameter_invalid_string", "Invalid object")
    for k, v in value.items():
        if len(k) > 40:
            return Problem("parameter_invalid_string", f"Metadata keys can be at most 40 characters long ({k[:50]})")
        if not isinstance(v, str) or len(v) > 500:
            return Problem("parameter_invalid_string", f"Metadata values must be strings of at most 500 characters ({k})")
    return None


def _address_problem(value: Any) -> Problem | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        return Problem("parameter_invalid_string", "Invalid object")
    unknown = [k for k in value if k not in ADDRESS_FIELDS]
    if unknown:
        return Problem("parameter_unknown", f"Received unknown parameter: address[{unknown[0]}]")
    bad = [k for k, v in value.items() if v is not None and not isinstance(v, str)]
    return Problem("parameter_invalid_string", f"Invalid string: address[{bad[0]}]") if bad else None


def parameter_problem(key: str, value: Any) -> Problem | None:
    """Why Stripe would refuse `value` for the parameter `key` of a customer or product write."""
    if key in STRINGS:
        return _string_problem(key, value)
    if key == "balance":
        return None if type(value) is int else _invalid("integer", value)
    if key == "active":
        return None if isinstance(value, bool) else _invalid("boolean", value)
    if key == "metadata":
        return _metadata_problem(value)
    if key == "address":
        return _address_problem(value)
    if key == "preferred_locales" and (not isinstance(value, list) or not all(isinstance(v, str) for v in value)):
        return Problem("parameter_invalid_string", "Invalid array: preferred_locales must be a list of locale strings")
    return None
