"""A simulated account's own events (Stripe's `/v1/events`), kept apart from the change log that syncs read and
forget: an event stays for `KEEP_FOR` of the emulator's clock (Stripe keeps 30 days), at most `MOST` per account,
oldest dropped first, so memory is bounded whatever the account's change rate. Each event is kept as its JSON,
ready to answer; a list walks from its cursor and stops at the page's end, so a list's cost follows its `limit`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import orjson

from sequin_emulator.domain.clock import MICROS

KEEP_FOR = 30 * 86400 * MICROS
MOST = 20_000


@dataclass(frozen=True)
class ProviderEvent:
    id: str
    time: int  # µs
    type: str
    payload: bytes  # the event's JSON, as the provider's API answers it
    subject: str | None = None  # the id of the object it tells of, when it carries that object's state

    def to_json(self) -> dict:
        saved = {"id": self.id, "time": self.time, "type": self.type, "payload": orjson.Fragment(self.payload)}
        return saved if self.subject is None else {**saved, "subject": self.subject}

    @classmethod
    def from_json(cls, saved: dict) -> ProviderEvent:
        return cls(saved["id"], saved["time"], saved["type"], orjson.dumps(saved["payload"]), saved.get("subject"))


class ProviderEvents:
    """Events oldest first, at absolute positions (`base` is how many were dropped), with an index by id and one of
    each object's latest event (what the provider last told of it: Stripe's `previous_attributes` come from it)."""

    def __init__(self, events: list[ProviderEvent] | None = None, base: int = 0) -> None:
        self.kept: list[ProviderEvent] = []
        self.base = base
        self._position: dict[str, int] = {}
        self._latest: dict[str, int] = {}  # subject → position of its latest event
        for event in events or []:
            self.append(event)

    def __len__(self) -> int:
        return len(self.kept)

    def append(self, event: ProviderEvent) -> None:
        self._position[event.id] = self.base + len(self.kept)
        if event.subject is not None:
            self._latest[event.subject] = self.base + len(self.kept)
        self.kept.append(event)
        self._drop(event.time)

    def latest_of(self, subject: str) -> ProviderEvent | None:
        """The latest event kept that tells of the object `subject`."""
        position = self._latest.get(subject)
        return None if position is None else self.kept[position - self.base]

    def _drop(self, now: int) -> None:
        """Drop what is past its time or over the bound (in slices, so a drop costs what it removes)."""
        expired = 0
        while expired < len(self.kept) and (self.kept[expired].time + KEEP_FOR <= now or
                                            len(self.kept) - expired > MOST):
            expired += 1
        if expired:
            for event in self.kept[:expired]:
                self._position.pop(event.id, None)
                if event.subject is not None and self._latest.get(event.subject, -1) < self.base + expired:
                    self._latest.pop(event.subject, None)
            del self.kept[:expired]
            self.base += expired

    def position_of(self, event_id: str) -> int:
        """The absolute position of a kept event."""
        return self._position[event_id]

    def find(self, event_id: str) -> ProviderEvent | None:
        position = self._position.get(event_id)
        return None if position is None else self.kept[position - self.base]

    def walk(self, older_than: str | None = None, newer_than: str | None = None,
             wanted: Callable[[ProviderEvent], bool] = lambda event: True) -> Iterator[ProviderEvent]:
        """The wanted events older than `older_than` (or all), newest first; or, with `newer_than`, those newer than
        it, oldest first (the nearest first either way). Lazy: a page takes only what it shows."""
        if newer_than is not None:
            indices: range = range(self._position[newer_than] - self.base + 1, len(self.kept))
        else:
            end = len(self.kept) if older_than is None else self._position[older_than] - self.base
            indices = range(end - 1, -1, -1)
        for index in indices:
            event = self.kept[index]
            if wanted(event):
                yield event

    def to_json(self) -> dict:
        return {"base": self.base, "kept": [event.to_json() for event in self.kept]}

    @classmethod
    def from_json(cls, saved: dict) -> ProviderEvents:
        return cls([ProviderEvent.from_json(e) for e in saved["kept"]], base=saved["base"])


class WebhookStyle(ABC):
    """How a provider sends its events to a webhook endpoint (Stripe's endpoints, a HubSpot app's target URL): which
    events an endpoint wants, how many go in one request and in what body, and when a failed request is tried
    again. An endpoint's `data` holds the provider's own object plus `url`, `secret` and `status` ("enabled")."""

    batch = 1  # events per request, at most
    most_out = 10  # requests of one endpoint waiting or under way at once, at most
    timeout = 30.0  # seconds an endpoint has to answer

    @abstractmethod
    def wants(self, endpoint: dict, event: ProviderEvent) -> bool:
        """Whether the endpoint is sent this event."""

    @abstractmethod
    def body(self, account_seed: str, endpoint: dict, events: list[ProviderEvent], attempt: int) -> bytes:
        """The request body for these events at this attempt (1 for the first)."""

    @abstractmethod
    def retry_in(self, attempt: int, status: int | None, retry_after: float | None, draw: float) -> int | None:
        """µs until the next try after attempt number `attempt` failed (with this HTTP status, None for no answer,
        and the answer's `Retry-After` in seconds), or None to give the events up; `draw` in [0, 1) for jitter."""

    def concurrency(self, endpoint: dict) -> int:
        """Requests to the endpoint under way at once, at most."""
        return self.most_out


@dataclass
class Batch:
    """Events of the account (by absolute position) sent in one request, and its attempts so far."""

    positions: list[int]
    attempts: int
    due_at: int  # µs, when it is (next) sent


@dataclass
class Endpoint:
    """A webhook endpoint of the account (`sequin_emulator.domain.provider_webhooks` delivers to it)."""

    data: dict  # the provider's own object, with `url`, `secret` and `status`
    position: int  # the absolute position, in the account's events, of the next event to look at
    out: dict[int, Batch] = field(default_factory=dict)  # by its first event's position
    in_flight: set[int] = field(default_factory=set)  # not saved: under way again after an import
    delivered: int = 0  # events

    def to_json(self) -> dict:
        return {"data": self.data, "position": self.position, "delivered": self.delivered,
                "out": [[first, batch.attempts, batch.due_at, *batch.positions[1:]] for first, batch in self.out.items()]}

    def keep_within(self, first: int, end: int) -> None:
        """Keep its place and its waiting events within the account's events `[first, end)`: events dropped (kept
        30 days), or never there (an edited snapshot), are not sent."""
        self.position = min(max(self.position, first), end)
        for key, batch in list(self.out.items()):
            batch.positions = [p for p in batch.positions if first <= p < end]
            if not batch.positions or batch.positions[0] != key:
                del self.out[key]
                self.in_flight.discard(key)
                if batch.positions:
                    self.out[batch.positions[0]] = batch

    @classmethod
    def from_json(cls, saved: dict, first: int, end: int) -> Endpoint:
        endpoint = cls(saved["data"], saved["position"],
                       {o[0]: Batch([o[0], *o[3:]], o[1], o[2]) for o in saved["out"]}, delivered=saved["delivered"])
        endpoint.keep_within(first, end)
        return endpoint
