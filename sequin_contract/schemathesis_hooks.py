"""Schemathesis hooks of the contract kit (loaded through SCHEMATHESIS_HOOKS by every run the kit makes).

A long poll waits up to a minute by design; generated calls keep `wait_for` short so a run checks the consume
operations without spending minutes asleep. The scenario tests cover long polls themselves. Only valid waits are
shortened (whole numbers, `10000.0` included, as JSON Schema counts it): a value the API must refuse (over its
maximum, not a whole number) is Schemathesis testing that it is refused, and is left as it is.
"""

from __future__ import annotations

import schemathesis

MAX_GENERATED_WAIT_MS = 50
WAIT_FOR_MAXIMUM = 60_000  # the Sequin API's WaitFor schema: its maximum


@schemathesis.hook
def map_body(ctx, body):  # noqa: ANN001, ANN201 - Schemathesis' hook signature
    wait = body.get("wait_for") if isinstance(body, dict) else None
    if isinstance(wait, int | float) and not isinstance(wait, bool) and float(wait).is_integer() and \
            MAX_GENERATED_WAIT_MS < wait <= WAIT_FOR_MAXIMUM:  # 10000.0 too: JSON Schema counts it a whole number
        body["wait_for"] = MAX_GENERATED_WAIT_MS
    return body


@schemathesis.hook
def map_query(ctx, query):  # noqa: ANN001, ANN201
    return map_body(ctx, query)
