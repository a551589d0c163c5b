"""At-least-once delivery of a stream to one HTTP consumer, shared by any number of workers.

The consumer's state is small: `cursor`, the first position never handed out; the deliveries still out
(each with its own ack token and deadline); and the positions waiting for redelivery (nacked, or their
`ack_wait_ms` passed). Every position before the cursor that is in neither is acked (or dropped after
`max_deliver`). A delivery of a version that was superseded since can still be acked, and is never redelivered:
the new version has its own, later position.
"""

from __future__ import annotations

import dataclasses
import hashlib
import heapq
from collections.abc import Callable
from dataclasses import dataclass, field

from sequin_emulator.domain.errors import Invalid
from sequin_emulator.domain.records import FilterKey, Moves, PositionLog

ANY = "*"
HOUR = 3600 * 1_000_000
SUPERSEDED = -1  # the position of a delivery whose version was superseded, and its slot compacted away


@dataclass
class Delivery:
    number: int  # the delivery's serial number, inside its ack token
    position: int
    count: int  # deliveries of this position so far, this one included
    deadline: int


@dataclass
class DeliveryRules:
    """The consumer settings delivery depends on (copied from the HttpConsumer on every call)."""

    ack_wait_ms: int
    max_deliver: int
    max_ack_pending: int
    filters: dict

    def __post_init__(self) -> None:
        self._wanted = tuple(self.filters[k] for k in ("provider", "sync_id", "collection_id"))
        self.everything = all(w == ANY for w in self._wanted)

    def matches(self, key: FilterKey) -> bool:
        provider, sync_id, collection_id = self._wanted
        return ((provider == ANY or provider == key[0]) and (sync_id == ANY or sync_id == key[1])
                and (collection_id == ANY or collection_id == key[2]))

    @property
    def matcher(self) -> Callable[[FilterKey], bool] | None:
        """`matches`, or None when the consumer takes everything (so counting can skip the filter)."""
        return None if self.everything else self.matches


@dataclass
class ConsumerCursor:
    consumer_id: str
    cursor: int = 0
    issued: int = 0  # deliveries made, ever; numbers tokens
    last_received: int | None = None  # highest position delivered, for the `last` policy
    out: dict[int, Delivery] = field(default_factory=dict)  # delivery number → delivery
    out_by_position: dict[int, Delivery] = field(default_factory=dict)
    deadlines: list[tuple[int, int]] = field(default_factory=list)  # heap of (deadline, number)
    again: dict[int, int] = field(default_factory=dict)  # position → deliveries so far, waiting for redelivery
    again_heap: list[int] = field(default_factory=list)

    # ------------------------------------------------------------ tokens

    def _signature(self, number: int) -> str:
        return hashlib.blake2b(f"{self.consumer_id}:{number}".encode(), digest_size=6).hexdigest()

    def token(self, number: int) -> str:
        return f"{number:x}-{self._signature(number)}"

    def _number(self, token: str) -> int | None:
        head, _, signature = token.partition("-")
        try:
            number = int(head, 16)
        except ValueError:
            return None
        return number if 0 < number <= self.issued and signature == self._signature(number) else None

    # ------------------------------------------------------------ positioning

    def start(self, log: PositionLog, policy: str, now: int, settings: DeliveryRules) -> None:
        """Place the cursor for `policy`, forgetting deliveries still out (their tokens become stale)."""
        for table in (self.out, self.out_by_position, self.deadlines, self.again, self.again_heap):
            table.clear()
        if policy == "all":
            self.cursor = 0
        elif policy == "new":
            self.cursor = len(log.entries)
        elif policy == "1h":
            self.cursor = log.first_position_since(now - HOUR)
        else:  # last: from the last record this consumer received, else the stream's last record
            last = self.last_received if self.last_received is not None else log.last_position(settings.matches)
            self.cursor = len(log.entries) if last is None else last

    # ------------------------------------------------------------ delivery

    def expire(self, log: PositionLog, now: int, settings: DeliveryRules) -> None:
        while self.deadlines and self.deadlines[0][0] <= now:
            deadline, number = heapq.heappop(self.deadlines)
            delivery = self.out.get(number)
            if delivery is not None and delivery.deadline == deadline:
                self._settle(delivery)
                self._requeue(log, delivery, settings)

    def _settle(self, delivery: Delivery) -> None:
        del self.out[delivery.number]
        if self.out_by_position.get(delivery.position) is delivery:
            del self.out_by_position[delivery.position]

    def remap(self, moves: Moves) -> None:
        """Follow a compaction of the log: every position moves to its new place. A delivery of a version
        superseded since stays ackable (never redelivered); redeliveries of superseded versions are dropped."""
        self.cursor = moves.new(self.cursor)
        if self.last_received is not None:
            self.last_received = moves.new(self.last_received)
        self.out_by_position.clear()
        for delivery in self.out.values():
            if delivery.position != SUPERSEDED and moves.live(delivery.position):
                delivery.position = moves.new(delivery.position)
                self.out_by_position[delivery.position] = delivery
            else:
                delivery.position = SUPERSEDED
        self.again = {moves.new(position): count for position, count in self.again.items() if moves.live(position)}
        self.again_heap = sorted(self.again)

    def _requeue(self, log: PositionLog, delivery: Delivery, settings: DeliveryRules) -> None:
        if delivery.position == SUPERSEDED or log.entries[delivery.position] is None:
            return  # superseded: the new version is delivered in its own place
        if settings.max_deliver != -1 and delivery.count >= settings.max_deliver:
            return  # dropped for this consumer
        self.again[delivery.position] = delivery.count
        heapq.heappush(self.again_heap, delivery.position)

    def next(self, log: PositionLog, now: int, batch_size: int, settings: DeliveryRules) -> list[tuple[str, int]]:
        """Hand out up to `batch_size` messages in stream order, within `max_ack_pending`: (ack token, position)."""
        self.expire(log, now, settings)
        room = min(batch_size, settings.max_ack_pending - len(self.out))
        picked: list[tuple[int, int]] = []  # (position, deliveries before this one)
        while room > len(picked) and self.again_heap:
            position = heapq.heappop(self.again_heap)
            count = self.again.pop(position, None)
            if count is not None and log.entries[position] is not None:
                picked.append((position, count))
        entries, matches = log.entries, settings.matcher
        while room > len(picked) and self.cursor < len(entries):
            version = entries[self.cursor]
            if version is not None and (matches is None or matches(version.filter_key)):
                picked.append((self.cursor, 0))
            self.cursor += 1
        messages: list[tuple[str, int]] = []
        for position, count in picked:
            self.issued += 1
            delivery = Delivery(self.issued, position, count + 1, now + settings.ack_wait_ms * 1000)
            self.out[delivery.number] = self.out_by_position[position] = delivery
            heapq.heappush(self.deadlines, (delivery.deadline, delivery.number))
            self.last_received = max(position, self.last_received or 0)
            messages.append((self.token(delivery.number), position))
        return messages

    def _deliveries(self, tokens: list[str]) -> list[Delivery]:
        """The deliveries still out for `tokens`; 422 if any token is not one of this consumer's."""
        numbers = [self._number(token) for token in tokens]
        bad = {f"ack_tokens.{i}": ["is not an ack token of this consumer"] for i, n in enumerate(numbers) if n is None}
        if bad:
            raise Invalid(bad, summary="Some ack tokens were not issued by this consumer; nothing was acked.")
        return [self.out[n] for n in dict.fromkeys(numbers) if n in self.out]

    def ack(self, log: PositionLog, now: int, tokens: list[str], settings: DeliveryRules) -> None:
        """Settle deliveries. A token whose `ack_wait_ms` has passed is stale: its message is available again."""
        self.expire(log, now, settings)
        for delivery in self._deliveries(tokens):
            self._settle(delivery)

    def nack(self, log: PositionLog, now: int, tokens: list[str], settings: DeliveryRules) -> None:
        self.expire(log, now, settings)
        for delivery in self._deliveries(tokens):
            self._settle(delivery)
            self._requeue(log, delivery, settings)

    def info(self, log: PositionLog, now: int, settings: DeliveryRules) -> dict[str, int]:
        self.expire(log, now, settings)
        waiting = sum(1 for position in self.again if log.entries[position] is not None)
        return {"num_pending": waiting + log.count_after(self.cursor, settings.matcher), "num_ack_pending": len(self.out)}

    def available(self, log: PositionLog, now: int, settings: DeliveryRules) -> int:
        """How many messages `next` could hand out now."""
        return min(self.info(log, now, settings)["num_pending"], max(0, settings.max_ack_pending - len(self.out)))

    def acked(self, position: int) -> bool:
        """Handed out and settled (acked, or dropped after max_deliver): neither pending nor out."""
        return position < self.cursor and position not in self.out_by_position and position not in self.again

    def next_deadline(self) -> int | None:
        return self.deadlines[0][0] if self.deadlines else None

    # ------------------------------------------------------------ saving

    def to_json(self) -> dict:
        return {"cursor": self.cursor, "issued": self.issued, "last_received": self.last_received,
                "out": [dataclasses.astuple(d) for d in self.out.values()],
                "again": [[position, count] for position, count in self.again.items()]}

    @classmethod
    def from_json(cls, consumer_id: str, saved: dict) -> ConsumerCursor:
        cursor = cls(consumer_id, cursor=saved["cursor"], issued=saved["issued"], last_received=saved["last_received"])
        for fields in saved["out"]:
            delivery = Delivery(*fields)
            cursor.out[delivery.number] = delivery
            if delivery.position != SUPERSEDED:
                cursor.out_by_position[delivery.position] = delivery
            heapq.heappush(cursor.deadlines, (delivery.deadline, delivery.number))
        for position, count in saved["again"]:
            cursor.again[position] = count
            heapq.heappush(cursor.again_heap, position)
        return cursor
