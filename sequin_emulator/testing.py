"""A small client for tests that drive an emulator: one tenant (its own token), and the helpers tests need.

The pytest plugin hands these out as the `sequin` fixture; other test frameworks can use it directly:

    tenant = TenantClient("http://127.0.0.1:7376")
    ids = tenant.load("fixtures/stripe-basic.yaml")
    records = tenant.drain(ids["consumers"]["worker"])

It talks through any `httpx.Client`, so it also drives an emulator in-process (Starlette's `TestClient`).
"""

from __future__ import annotations

import hmac
import json
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from sequin_emulator.domain.webhooks import signature
from sequin_emulator.scenario import read as read_scenario


class TenantClient:
    """An isolated organization on an emulator: every client gets a fresh token unless given one.

    `http` is the client to talk through (its base URL is the emulator's); by default one of its own, for
    `base_url`, closed by `close()`."""

    def __init__(self, base_url: str = "", token: str | None = None, timeout: float = 30.0,
                 http: httpx.Client | None = None) -> None:
        self.token = token or f"test-{uuid.uuid4().hex}"
        self.headers = {"Authorization": f"Bearer {self.token}"}
        self._owns_http = http is None
        self.http = http if http is not None else httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout)
        self.base_url = str(self.http.base_url).rstrip("/")

    def close(self) -> None:
        if self._owns_http:
            self.http.close()

    # plain HTTP, for the API under test
    def request(self, method: str, path: str, json: Any = None, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self.http.request(method, path, json=json, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, json, **kwargs)

    def _ok(self, method: str, path: str, json: Any = None, **kwargs: Any) -> Any:
        response = self.request(method, path, json, **kwargs)
        if response.status_code >= 400:
            raise AssertionError(f"{method} {path} answered {response.status_code}: {response.text}")
        return response.json() if response.content else None

    # helpers
    def load(self, scenario: str | Path | dict) -> dict[str, dict[str, str]]:
        """Load a scenario (a file's path, a shipped scenario's name such as `"stripe-basic"`, or the parsed
        mapping); returns ids by name."""
        data = scenario if isinstance(scenario, dict) else read_scenario(scenario)[0]
        return self._ok("POST", "/_emulator/scenario", data)

    def advance(self, by: str) -> dict:
        """Move the tenant's clock forward (`"90s"`, `"4h"`), running everything that falls due."""
        return self._ok("POST", "/_emulator/clock/advance", {"by": by})

    def wait_for_backfill(self, sync_id: str, step: str = "1s", steps: int = 3600) -> dict:
        """Advance the clock step by step (bounded) until the sync's initial backfill is done; returns the sync."""
        for _ in range(steps):
            sync = self._ok("GET", f"/v1/syncs/{sync_id}")
            if sync["initial_backfill_completed_at"] is not None:
                return sync
            self.advance(step)
        raise AssertionError(f"sync {sync_id} had not finished its backfill after {steps} steps of {step}")

    def api_base(self, credential_id: str) -> str:
        """Where the credential's simulated account answers its provider's own API, for the official SDK:
        `stripe.StripeClient(key, base_addresses={"api": base})`, `hubspot.HubSpot(access_token=..., host=base)`."""
        return str(self._ok("GET", f"/_emulator/upstream/{credential_id}")["api_base"])

    def wait_for_postgres(self, consumer_id: str, timeout: float = 30.0) -> dict:
        """Wait until a Postgres consumer has committed everything it covers to its table; returns its progress
        (`caught_up`, `pending`, `health`), or raises AssertionError after `timeout` seconds."""
        longer = {"timeout": timeout + 10} if self._owns_http else {}  # a client handed in keeps its own settings
        progress = self._ok("POST", f"/_emulator/consumers/postgres/{consumer_id}/wait",
                            {"timeout_ms": int(timeout * 1000)}, **longer)
        if not progress["caught_up"]:
            raise AssertionError(f"Postgres consumer {consumer_id} had not caught up after {timeout} s: {progress}")
        return progress

    def inject(self, credential_id: str, kind: str, collection_id: str, upstream_id: str | None = None,
               data: dict | None = None) -> dict:
        """Make an upstream insert / update / delete; syncs see it at their next poll."""
        body = {"kind": kind, "collection_id": collection_id, "data": data or {}}
        if upstream_id is not None:
            body["upstream_id"] = upstream_id
        return self._ok("POST", f"/_emulator/upstream/{credential_id}/changes", body)

    def upstream(self, credential_id: str, collection_id: str) -> list[dict]:
        return self._ok("GET", f"/_emulator/upstream/{credential_id}/records", params={"collection_id": collection_id})[
            "data"
        ]

    def drain(self, consumer_id: str, batch_size: int = 1000, limit: int = 100_000) -> list[dict]:
        """Receive and ack everything available to a consumer now; returns the records in order."""
        records: list[dict] = []
        while len(records) < limit:
            answer = self._ok("POST", f"/v1/http-consumers/{consumer_id}/next", {"batch_size": batch_size})
            if not answer["data"]:
                return records
            records += [message["record"] for message in answer["data"]]
            self._ok("POST", f"/v1/http-consumers/{consumer_id}/ack",
                     {"ack_tokens": [message["ack_token"] for message in answer["data"]]})
        return records

    def reset(self) -> None:
        self._ok("POST", "/_emulator/reset")


# ------------------------------------------------------------------ webhooks

class SignatureError(ValueError):
    """A webhook delivery whose `sequin-signature` does not match its body and timestamp for the secret."""


def verify_signature(body: bytes, headers: Mapping[str, str], secret: str, tolerance_s: int | None = None,
                     now_s: int | None = None) -> dict:
    """The delivery's JSON once its signature checks out, as a receiver of a webhook consumer should check it:
    `sequin-signature: v1=<hex HMAC-SHA256 of "<sequin-timestamp>.<body>" with the secret>`, compared in constant
    time. With `tolerance_s`, the timestamp (the emulator's clock, in seconds) must also be within that many
    seconds of `now_s` (default: the wall clock), against replays."""
    lowered = {k.lower(): v for k, v in headers.items()}
    timestamp, given = lowered.get("sequin-timestamp", ""), lowered.get("sequin-signature", "")
    expected = signature(secret, timestamp, body)
    if not timestamp.isdigit() or not hmac.compare_digest(given.encode(), expected.encode()):
        raise SignatureError("the sequin-signature header does not match the body, timestamp and secret")
    if tolerance_s is not None and abs((time.time() if now_s is None else now_s) - int(timestamp)) > tolerance_s:
        raise SignatureError(f"the sequin-timestamp is more than {tolerance_s} s away")
    return json.loads(body)


@dataclass(frozen=True)
class Received:
    """One request a `WebhookReceiver` got."""

    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class WebhookReceiver:
    """A real HTTP server on 127.0.0.1 and a free port, in a thread, that keeps what it receives: the endpoint a
    test points a webhook consumer at.

        with WebhookReceiver() as receiver:
            sequin.post("/v1/consumers/webhook", {"name": "hooks", "url": receiver.url})
            deliveries = receiver.wait_for(3)

    `status` is what it answers (200; set it to 500 to fail deliveries, or `down()` / `up()` to refuse
    connections altogether)."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.received: list[Received] = []
        self._changed = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def __enter__(self) -> WebhookReceiver:
        self.up()
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()

    def up(self) -> None:
        """Start answering (on the same port as before, if it ran before)."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                status = receiver.status
                with receiver._changed:
                    receiver.received.append(Received("POST", self.path, {k.lower(): v for k, v in self.headers.items()},
                                                      body))
                    receiver._changed.notify_all()
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook-receiver", daemon=True)
        self._thread.start()

    def down(self) -> None:
        """Stop answering: connections to the URL are refused until `up()`."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Every request received, once there are at least `count` (AssertionError after `timeout` seconds)."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.received) >= count, timeout):
                raise AssertionError(f"{len(self.received)} webhook deliveries within {timeout} s, not {count}")
            return list(self.received)
