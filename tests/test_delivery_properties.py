"""Stateful property test of consumer delivery against a model (the domain directly, on a manual clock).

Random interleavings of writes (inserts, updates, deletes), `next` by several workers, `ack`, `nack` (with
fresh and stale tokens) and clock advances, with or without a collection filter, must: never hand out a
superseded, acked or filtered-out version, keep stream order within a batch, never exceed `max_ack_pending`,
keep `info` exact, and in the end deliver every live version until it is acked (or dropped after `max_deliver`),
while the log compacts its superseded slots under the consumer.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from sequin_emulator.domain import consumers, streams, syncs
from sequin_emulator.domain.inputs import NewConsumer, NewStream, NewSync
from sequin_emulator.domain.tenant import ClockStart, Tenants
from sequin_emulator.spec.bodies import parse

ACK_WAIT_MS = 1000
KEYS = [f"obj_{i}" for i in range(6)]
COLLECTIONS = ["stripe:customer", "stripe:invoice"]


class Delivery(RuleBasedStateMachine):
    @initialize(max_ack_pending=st.integers(1, 6), max_deliver=st.sampled_from([-1, 1, 2, 3]), filtered=st.booleans())
    def setup(self, max_ack_pending, max_deliver, filtered):
        self.tenant = Tenants(seed=1, clock=ClockStart(mode="manual", start=0)).get("prop")
        stream = streams.create(self.tenant, NewStream("s"))
        log = stream.log
        log.block = 4  # tiny blocks, so the per-block counts of num_pending are exercised too
        log.compact_after = 1  # and compactions, with the consumer's positions moving under its deliveries
        self.sync = syncs.create(self.tenant, parse(NewSync, {
            "stream_id": stream.id, "name": "s", "collection_ids": COLLECTIONS,
            "credential": {"properties": {"kind": "stripe_key", "secret": "sk"}}}))
        self.consumer = consumers.create(self.tenant, parse(NewConsumer, {
            "stream_id": stream.id, "ack_wait_ms": ACK_WAIT_MS, "max_ack_pending": max_ack_pending,
            "max_deliver": max_deliver, **({"filters": {"collection_id": COLLECTIONS[0]}} if filtered else {})}))
        self.wanted = {COLLECTIONS[0]} if filtered else set(COLLECTIONS)
        self.max_ack_pending, self.max_deliver = max_ack_pending, max_deliver
        self.live: dict[tuple[str, str], int] = {}  # (collection, upstream id) → idx of its latest version
        self.acked: set[int] = set()
        self.dropped: set[int] = set()
        self.deliveries: dict[int, int] = {}  # idx → times delivered
        self.out: dict[str, tuple[int, int]] = {}  # token → (idx, deadline) for deliveries still out
        self.tokens: list[str] = []  # every token ever handed out

    # -------------------------------------------------------------- model

    def _now(self) -> int:
        return self.tenant.now()

    def _expire(self) -> None:
        for token, (_, deadline) in list(self.out.items()):
            if deadline <= self._now():
                self._give_back(token)

    def _give_back(self, token: str) -> None:
        idx, _ = self.out.pop(token)
        if self.max_deliver != -1 and self.deliveries[idx] >= self.max_deliver:
            self.dropped.add(idx)

    def _pending(self) -> set[int]:
        out = {idx for idx, _ in self.out.values()}
        return {idx for (collection, _), idx in self.live.items()
                if collection in self.wanted and idx not in self.acked | self.dropped | out}

    # -------------------------------------------------------------- rules

    @rule(collection=st.sampled_from(COLLECTIONS), key=st.sampled_from(KEYS), deleted=st.booleans())
    def write(self, collection, key, deleted):
        version = streams.write_record(self.tenant, self.sync, collection, key, {"id": key}, deleted=deleted)
        assert version.idx > max(self.live.values(), default=0)
        self.live[(collection, key)] = version.idx

    @rule(batch=st.integers(1, 5), worker=st.integers(0, 3))
    def next(self, batch, worker):
        self._expire()
        before = len(self.out)
        messages, info = consumers.receive(self.tenant, self.consumer.id, batch)
        expected = min(batch, self.max_ack_pending - before, len(self._pending()))
        assert len(messages) == expected
        positions = [self.tenant.streams.get(self.sync.stream_id).log.position[v.key] for _, v in messages]
        assert positions == sorted(positions), "stream order"
        for token, version in messages:
            assert version.key[1] in self.wanted, "a filtered-out record was delivered"
            assert version.idx == self.live[version.key[1:]], "a superseded version was delivered"
            assert version.idx not in self.acked, "an acked version was delivered again"
            assert version.idx not in {idx for idx, _ in self.out.values()}, "delivered while out"
            assert token not in self.tokens
            self.deliveries[version.idx] = self.deliveries.get(version.idx, 0) + 1
            self.out[token] = (version.idx, self._now() + ACK_WAIT_MS * 1000)
            self.tokens.append(token)
        assert len(self.out) <= self.max_ack_pending

    @precondition(lambda self: self.tokens)
    @rule(data=st.data(), verb=st.sampled_from(["ack", "nack"]))
    def settle(self, data, verb):
        """Ack or nack a few tokens, fresh or stale."""
        self._expire()
        picked = data.draw(st.lists(st.sampled_from(self.tokens), max_size=4))
        getattr(consumers, verb)(self.tenant, self.consumer.id, picked)
        for token in dict.fromkeys(picked):
            if token in self.out:
                if verb == "ack":
                    self.acked.add(self.out.pop(token)[0])
                else:
                    self._give_back(token)

    @rule(ms=st.sampled_from([0, 1, 400, 999, 1000, 1500, 5000]))
    def advance(self, ms):
        self.tenant.clock.advance(ms * 1000)

    @invariant()
    def info_is_exact(self):
        if not hasattr(self, "tenant"):
            return
        self._expire()
        _, cursor, log, settings_ = consumers._cursor(self.tenant, self.consumer.id)
        assert cursor.info(log, self._now(), settings_) == {"num_pending": len(self._pending()),
                                                           "num_ack_pending": len(self.out)}

    def teardown(self):
        if hasattr(self, "tenant"):
            self._drain_and_check()

    def _drain_and_check(self):
        for _ in range(200):  # drain: every live version is delivered until acked, unless dropped
            self.tenant.clock.advance((ACK_WAIT_MS + 1) * 1000)
            self._expire()
            messages, _ = consumers.receive(self.tenant, self.consumer.id, 100)
            for _, version in messages:
                assert version.idx not in self.acked
                self.deliveries[version.idx] = self.deliveries.get(version.idx, 0) + 1
                self.acked.add(version.idx)
            consumers.ack(self.tenant, self.consumer.id, [token for token, _ in messages])
            if not messages and not self._pending():
                break
        for (collection, _), idx in self.live.items():
            if collection in self.wanted:
                assert idx in self.acked or idx in self.dropped, f"version {idx} was lost"


TestDelivery = Delivery.TestCase
TestDelivery.settings = settings(max_examples=150, stateful_step_count=40, deadline=None,
                                 suppress_health_check=[HealthCheck.too_slow])
