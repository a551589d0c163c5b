"""Stripe's Search API query language over a simulated account (`/v1/customers/search`, charges, invoices, payment
intents, prices, products, subscriptions), as https://stripe.com/docs/search describes it:

    email:"jenny@example.com" AND metadata["plan"]:"pro"     -status:"canceled"     amount>=1000     name~"jen"

A query is up to 10 clauses joined by `AND` or by `OR` (not both); a clause is a field (one of the resource's
search fields, a dotted path, or `metadata["key"]`), an operator (`:` exact and case-insensitive, `~` substring
of at least 3 characters, `>`, `>=`, `<`, `<=` for numbers) and a value (a quoted string, a number, or `null`
for "not set"); `-` negates a clause. A malformed query is Stripe's 400 `parameter_invalid_string` on `query`,
saying where.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sequin_emulator.providers.stripe.errors import StripeError

# each resource's search fields and their kinds, as Stripe lists them (metadata is searchable everywhere)
SEARCHABLE: dict[str, dict[str, str]] = {
    "customer": {"created": "number", "email": "string", "name": "string", "phone": "string"},
    "charge": {"amount": "number", "billing_details.address.postal_code": "string", "created": "number",
               "currency": "string", "customer": "string", "disputed": "boolean", "payment_method_details.card.last4":
               "string", "payment_method_details.card.brand": "string", "refunded": "boolean", "status": "string"},
    "invoice": {"created": "number", "currency": "string", "customer": "string", "number": "string",
                "receipt_number": "string", "subscription": "string", "total": "number", "status": "string"},
    "payment_intent": {"amount": "number", "created": "number", "currency": "string", "customer": "string",
                       "status": "string"},
    "price": {"active": "boolean", "currency": "string", "lookup_key": "string", "product": "string",
              "type": "string"},
    "product": {"active": "boolean", "description": "string", "name": "string", "shippable": "boolean",
                "url": "string"},
    "subscription": {"created": "number", "status": "string"},
}
PLURAL = {"customer": "customers", "charge": "charges", "invoice": "invoices", "payment_intent": "payment_intents",
          "price": "prices", "product": "products", "subscription": "subscriptions"}
MOST_CLAUSES = 10
TOKEN = re.compile(r'\s*(?:(?P<word>AND|OR)\b|(?P<clause>(?P<negated>-)?(?P<field>metadata\["(?:[^"\\]|\\.)*"\]|'
                   r'[a-z_][a-z0-9_.]*)\s*(?P<op>>=|<=|:|~|>|<)\s*(?P<value>"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?|null)))')


@dataclass(frozen=True)
class Clause:
    field: str  # a dotted path, or `metadata["key"]`
    op: str
    value: str | float | None
    negated: bool

    def test(self, data: dict) -> bool:
        found = _value_at(data, self.field)
        value = self.value
        if value is None:
            matched = found in (None, "")
        elif self.op == ":" and isinstance(value, float):
            matched = _number(found) and float(found) == value
        elif self.op == ":":
            matched = found is not None and _text(found) == _text(value)
        elif self.op == "~":
            matched = isinstance(found, str) and str(value).lower() in found.lower()
        else:
            compare: dict[str, Callable[[float, float], bool]] = {
                ">": float.__gt__, ">=": float.__ge__, "<": float.__lt__, "<=": float.__le__}
            matched = _number(found) and compare[self.op](float(found), float(value))
        return matched != self.negated


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _text(value: Any) -> str:
    """A value as the `:` operator compares it: case-insensitive text, booleans as `true` / `false`."""
    return str(value).lower() if not isinstance(value, bool) else ("true" if value else "false")


def _value_at(data: dict, field: str) -> Any:
    if field.startswith("metadata["):
        return (data.get("metadata") or {}).get(_unquoted(field[len("metadata["):-1]))
    found: Any = data
    for part in field.split("."):
        found = found.get(part) if isinstance(found, dict) else None
    return found


def _unquoted(quoted: str) -> str:
    return re.sub(r"\\(.)", r"\1", quoted[1:-1])


def _refused(message: str) -> StripeError:
    return StripeError(400, message, "parameter_invalid_string", "query")


def matcher(collection: str, query: str) -> Callable[[dict], bool]:
    """The test an object passes when the query matches it."""
    clauses, joins, at = [], set(), 0
    expect_clause = True
    while at < len(query.rstrip()):
        match = TOKEN.match(query, at)
        if match is None or (match.group("clause") is None) == expect_clause:
            wanted = 'a clause such as email:"a@example.com"' if expect_clause else "AND or OR"
            raise _refused(f"The query is not valid at character {at + 1} ({query[at:at + 30]!r}): expected {wanted}.")
        if match.group("word"):
            joins.add(match.group("word"))
        else:
            clauses.append(_clause(collection, match))
        expect_clause, at = not expect_clause, match.end()
    if not clauses or expect_clause:
        raise _refused("The query ends where a clause was expected." if clauses else "The query is empty.")
    if len(joins) > 1:
        raise _refused("A query cannot mix AND and OR.")
    if len(clauses) > MOST_CLAUSES:
        raise _refused(f"A query may have at most {MOST_CLAUSES} clauses.")
    if joins == {"OR"}:
        return lambda data: any(c.test(data) for c in clauses)
    return lambda data: all(c.test(data) for c in clauses)


def _clause(collection: str, match: re.Match) -> Clause:
    field, op, raw = match.group("field"), match.group("op"), match.group("value")
    kind = "metadata" if field.startswith("metadata[") else SEARCHABLE[collection].get(field)
    if kind is None:
        raise _refused(f"Field `{field}` is an unsupported search field for resource `{PLURAL[collection]}`. See "
                       f"https://stripe.com/docs/search#query-fields-for-{PLURAL[collection].replace('_', '-')} for "
                       "a list of supported fields.")
    value: str | float | None = None if raw == "null" else _unquoted(raw) if raw.startswith('"') else float(raw)
    if op in (">", ">=", "<", "<=") and (kind != "number" or not isinstance(value, float)):
        raise _refused(f"`{field}` cannot be compared with {op}: only number fields can, against a number.")
    if op == "~" and (not isinstance(value, str) or len(value) < 3):
        raise _refused(f"`{field}~` needs a quoted value of at least 3 characters.")
    if kind in ("string", "metadata") and isinstance(value, float):
        raise _refused(f"`{field}` takes a quoted string value.")
    return Clause(field, op, value, match.group("negated") is not None)
