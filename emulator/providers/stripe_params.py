"""Which parameters each Stripe operation takes, and of what kind: checked whole before an operation runs, so a
request Stripe would refuse is refused before anything is written, with Stripe's words (`Invalid integer: ...`,
`Received unknown parameter: ...`) and the parameter's name in `param`.

Form values arrive as strings, possibly nested (`metadata[k]=v`, `items[0][price]=...`); a kind says what a value
must be: a string (at most 5,000 characters unless said), an integer within bounds (64 bits at the most, so no
stored number can break a later JSON encoding), a boolean (`true` / `false`), metadata (at most 50 keys of at most
40 characters, values strings of at most 500), an `expand[]` list of field paths, a `created` filter, or an object
or list of kinds. An empty string is allowed where Stripe takes it to unset a field.
"""

from __future__ import annotations

from typing import Any

from emulator.providers.stripe_errors import StripeError

INT64 = (-(1 << 63) + 1, (1 << 63) - 1)
MAX_STRING = 5000
METADATA_KEYS, METADATA_KEY_LENGTH, METADATA_VALUE_LENGTH = 50, 40, 500

Kind = str | dict | list  # "string", "integer:0:100", ...; {"field": kind}; [kind]

ADDRESS: dict[str, Kind] = {name: "string" for name in ("city", "country", "line1", "line2", "postal_code", "state")}
PAGING: dict[str, Kind] = {"limit": "integer:1:100", "starting_after": "id", "ending_before": "id",
                           "created": "created", "expand": "expand"}
CUSTOMER: dict[str, Kind] = {"email": "string:512", "name": "string:256", "phone": "string:20", "description":
                             "string:350000", "metadata": "metadata", "balance": "integer", "address": ADDRESS,
                             "preferred_locales": ["string"], "expand": "expand"}
PRODUCT: dict[str, Kind] = {"name": "string:256", "description": "string:350000", "metadata": "metadata",
                            "active": "boolean", "url": "string", "unit_label": "string:12",
                            "statement_descriptor": "string:22", "expand": "expand"}
NOTES: dict[str, Kind] = {"metadata": "metadata", "description": "string", "expand": "expand"}
EXPAND: dict[str, Kind] = {"expand": "expand"}

OPERATIONS: dict[str, dict[str, Kind]] = {
    "stripeListCustomers": {**PAGING, "email": "string:512"},
    "stripeCreateCustomer": CUSTOMER,
    "stripeGetCustomer": EXPAND,
    "stripeUpdateCustomer": CUSTOMER,
    "stripeDeleteCustomer": {},
    "stripeListProducts": {**PAGING, "active": "boolean"},
    "stripeCreateProduct": {**PRODUCT, "id": "id"},
    "stripeGetProduct": EXPAND,
    "stripeUpdateProduct": PRODUCT,
    "stripeDeleteProduct": {},
    "stripeListPrices": {**PAGING, "product": "id", "active": "boolean"},
    "stripeCreatePrice": {"product": "id", "unit_amount": "integer:0:99999999", "currency": "string:3",
                          "recurring": {"interval": "string", "interval_count": "integer:1:365"},
                          "nickname": "string", "metadata": "metadata", "expand": "expand"},
    "stripeGetPrice": EXPAND,
    "stripeUpdatePrice": {"active": "boolean", "metadata": "metadata", "nickname": "string", "expand": "expand"},
    "stripeListSubscriptions": {**PAGING, "customer": "id", "price": "id", "status": "string"},
    "stripeCreateSubscription": {"customer": "id", "items": [{"price": "id", "quantity": "integer:1:10000"}],
                                 "trial_period_days": "integer:0:730", "metadata": "metadata", "expand": "expand"},
    "stripeGetSubscription": EXPAND,
    "stripeUpdateSubscription": {**NOTES, "cancel_at_period_end": "boolean"},
    "stripeCancelSubscription": EXPAND,
    "stripeListInvoices": {**PAGING, "customer": "id", "subscription": "id", "status": "string"},
    "stripeCreateInvoice": {**NOTES, "customer": "id", "collection_method": "string"},
    "stripeGetInvoice": EXPAND,
    "stripeUpdateInvoice": NOTES,
    "stripeDeleteInvoice": {},
    "stripeFinalizeInvoice": EXPAND,
    "stripePayInvoice": EXPAND,
    "stripeVoidInvoice": EXPAND,
    "stripeListPaymentIntents": {**PAGING, "customer": "id"},
    "stripeCreatePaymentIntent": {**NOTES, "amount": "integer:50:99999999", "currency": "string:3",
                                  "customer": "id", "payment_method": "id", "confirm": "boolean"},
    "stripeGetPaymentIntent": EXPAND,
    "stripeUpdatePaymentIntent": NOTES,
    "stripeConfirmPaymentIntent": {"payment_method": "id", "expand": "expand"},
    "stripeCancelPaymentIntent": {"cancellation_reason": "string", "expand": "expand"},
    "stripeListCharges": {**PAGING, "customer": "id", "payment_intent": "id"},
    "stripeCreateCharge": {**NOTES, "amount": "integer:50:99999999", "currency": "string:3", "customer": "id",
                           "source": "id"},
    "stripeGetCharge": EXPAND,
    "stripeUpdateCharge": NOTES,
    "stripeListEvents": {**PAGING, "type": "string", "types": ["string"]},
    "stripeGetEvent": EXPAND,
}


def check(operation: str, params: dict) -> None:
    """Raise Stripe's 400 for the first parameter `operation` would refuse."""
    _object(OPERATIONS[operation], params, "")


def _name(prefix: str, key: str) -> str:
    return f"{prefix}[{key}]" if prefix else key


def _object(kinds: dict[str, Kind], value: Any, prefix: str) -> None:
    if not isinstance(value, dict):
        raise _invalid("object", value, prefix)
    for key, item in value.items():
        kind = kinds.get(key)
        if kind is None:
            raise StripeError(400, f"Received unknown parameter: {_name(prefix, key)[:200]}", "parameter_unknown",
                              _name(prefix, key)[:200])
        _value(kind, item, _name(prefix, key))


def _value(kind: Kind, value: Any, name: str) -> None:
    if isinstance(kind, dict):
        if value != "":  # an empty string unsets an object (`address=`)
            _object(kind, value, name)
    elif isinstance(kind, list):
        if value == "":
            return
        if not isinstance(value, list):
            raise _invalid("array", value, name)
        for index, item in enumerate(value):
            _value(kind[0], item, f"{name}[{index}]")
    else:
        base, _, bounds = kind.partition(":")
        CHECKS[base](value, name, bounds)


def _invalid(what: str, value: Any, name: str, detail: str = "") -> StripeError:
    shown = value if isinstance(value, str) else ("an object" if isinstance(value, dict) else "an array")
    code = {"integer": "parameter_invalid_integer", "boolean": "parameter_invalid_boolean",
            "array": "parameter_invalid_array", "object": "parameter_invalid_object"}.get(what,
                                                                                         "parameter_invalid_string")
    return StripeError(400, f"Invalid {what}: {str(shown)[:50]}{detail}", code, name[:200])


def _string(value: Any, name: str, bounds: str) -> None:
    if not isinstance(value, str):
        raise _invalid("string", value, name)
    most = int(bounds) if bounds else MAX_STRING
    if len(value) > most:
        raise _invalid("string", value, name, f"...; must be at most {most} characters")


def _id(value: Any, name: str, bounds: str) -> None:
    _string(value, name, bounds)
    if "/" in value:
        raise StripeError(400, f"Invalid string: {value[:50]}; an id cannot contain '/'", "parameter_invalid_string",
                          name)


def _integer(value: Any, name: str, bounds: str) -> None:
    low, high = INT64
    if bounds:
        text_low, _, text_high = bounds.partition(":")
        low, high = int(text_low), int(text_high)
    text = value.strip() if isinstance(value, str) else ""
    digits = text[1:] if text.startswith("-") else text
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 19 or not low <= int(text) <= high:
        detail = f" (between {low} and {high})" if bounds else ""
        raise _invalid("integer", value, name, detail)


def _boolean(value: Any, name: str, bounds: str) -> None:
    if value not in ("true", "false"):
        raise _invalid("boolean", value, name)


def _metadata(value: Any, name: str, bounds: str) -> None:
    if value == "":
        return
    if not isinstance(value, dict):
        raise _invalid("object", value, name)
    if len(value) > METADATA_KEYS:
        raise StripeError(400, f"Invalid metadata: at most {METADATA_KEYS} keys are allowed, not {len(value)}.",
                          "parameter_invalid_object", name)
    for key, item in value.items():
        if len(key) > METADATA_KEY_LENGTH:
            raise StripeError(400, f"Invalid metadata: keys can be at most {METADATA_KEY_LENGTH} characters long "
                              f"({key[:50]})", "parameter_invalid_string", name)
        if not isinstance(item, str):
            raise _invalid("string", item, f"{name}[{key}]")
        if len(item) > METADATA_VALUE_LENGTH:
            raise StripeError(400, f"Invalid metadata: values can be at most {METADATA_VALUE_LENGTH} characters "
                              f"long ({key[:40]})", "parameter_invalid_string", f"{name}[{key}]")


def _expand(value: Any, name: str, bounds: str) -> None:
    if not isinstance(value, list):
        raise _invalid("array", value, name)
    for index, item in enumerate(value):
        _string(item, f"{name}[{index}]", "")


def _created(value: Any, name: str, bounds: str) -> None:
    if isinstance(value, dict):
        _object({op: "integer" for op in ("gt", "gte", "lt", "lte")}, value, name)
    else:
        _integer(value, name, "")


CHECKS = {"string": _string, "id": _id, "integer": _integer, "boolean": _boolean, "metadata": _metadata,
          "expand": _expand, "created": _created}
