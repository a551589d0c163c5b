"""How Stripe pages a list held in memory (newest first): `limit`, `starting_after`, `ending_before`, `has_more`;
a cursor naming nothing in the list is Stripe's 404."""

from __future__ import annotations

from sequin_emulator.providers.stripe.errors import missing


def paged(ids: list[str], params: dict, noun: str) -> tuple[list[str], bool]:
    """The page of `ids` the parameters ask for, and whether more are past it."""
    limit = int(params.get("limit") or 10)
    after, before = params.get("starting_after"), params.get("ending_before")
    for cursor in (after, before):
        if cursor is not None and cursor not in ids:
            raise missing(noun, cursor)
    if after is not None:
        chosen = ids[ids.index(after) + 1:]
        return chosen[:limit], len(chosen) > limit
    if before is not None:
        chosen = ids[:ids.index(before)]
        return chosen[-limit:], len(chosen) > limit
    return ids[:limit], len(ids) > limit
