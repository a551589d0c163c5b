"""Deliberately broken emulators, to prove the kit fails when a server breaks the contract.

Each variant wraps the true emulator's ASGI app and breaks one promise. Run one with
`python -m sequin_contract.broken KIND --port PORT`; `tests/test_contract_kit.py` runs the kit against every
kind and expects it to fail, and against the true emulator and expects it to pass.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import orjson

from sequin_emulator.api.app import create_app
from sequin_emulator.config import ServerConfig

MASK = "***********"


class Exchange:
    """One request and its response, as the wrapper sees them; hooks edit them in place."""

    def __init__(self, method: str, path: str, headers: list, body: bytes) -> None:
        self.method, self.path, self.headers, self.body = method, path, headers, body
        self.status, self.response = 200, b""
        self.response_headers: list = []
        self.forward = True  # False: answer without asking the emulator

    def json(self):
        try:
            return orjson.loads(self.response)
        except orjson.JSONDecodeError:
            return None

    def set_json(self, value, status: int | None = None) -> None:
        self.response = orjson.dumps(value)
        self.status = status or self.status
        self.response_headers = [(k, v) for k, v in self.response_headers if k.lower() != b"content-length"]
        self.response_headers.append((b"content-length", str(len(self.response)).encode()))

    def is_(self, method: str, prefix: str) -> bool:
        return self.method == method and self.path.startswith(prefix)


def _edit_items(exchange: Exchange, edit: Callable[[dict], None]) -> None:
    data = exchange.json()
    if isinstance(data, dict):
        for item in data.get("data", [data]) if isinstance(data.get("data"), list) else [data]:
            if isinstance(item, dict):
                edit(item)
        exchange.set_json(data)


# ------------------------------------------------------------------ the variants: (before, after) hooks

def drop_required_field(x: Exchange) -> None:
    if x.path.startswith("/v1/streams") and x.status == 200:
        _edit_items(x, lambda item: item.pop("slug", None))


def wrong_type(x: Exchange) -> None:
    if x.path.startswith("/v1/http-consumers") and "/next" not in x.path and x.status == 200:
        _edit_items(x, lambda item: item.update(ack_wait_ms=str(item.get("ack_wait_ms"))) if "ack_wait_ms" in item else None)


def wrong_status(x: Exchange) -> None:
    if x.is_("POST", "/v1/streams") and x.status == 200:
        x.status = 201


def server_error(x: Exchange) -> None:
    if x.is_("PATCH", "/v1/streams/"):
        x.set_json({"summary": "boom"}, status=500)


def error_without_summary(x: Exchange) -> None:
    if x.status == 404:
        x.set_json({"error": "not found"})


def validation_without_fields(x: Exchange) -> None:
    if x.status == 422:
        x.set_json({"summary": "invalid"})


def no_allow_header(x: Exchange) -> None:
    if x.status == 405:
        x.response_headers = [(k, v) for k, v in x.response_headers if k.lower() != b"allow"]


def list_oldest_first(x: Exchange) -> None:
    data = x.json()
    if x.method == "GET" and isinstance(data, dict) and isinstance(data.get("data"), list) and "/next" not in x.path:
        data["data"].reverse()
        x.set_json(data)


def leaked_secret(x: Exchange) -> None:
    if x.is_("POST", "/v1/credentials") and x.status == 200:
        sent = orjson.loads(x.body).get("properties", {})
        _edit_items(x, lambda item: item["properties"].update(secret=sent.get("secret", "leak")))


def before_accept_unknown_fields(x: Exchange) -> None:
    if x.method in ("POST", "PATCH") and x.path.startswith("/v1/streams"):
        body = orjson.loads(x.body or b"{}")
        if isinstance(body, dict):
            x.body = orjson.dumps({k: v for k, v in body.items() if k == "slug"})


def before_delete_does_nothing(x: Exchange) -> None:
    if x.method == "DELETE" and x.path.startswith("/v1/streams/"):
        x.forward = False
        x.set_json({"id": x.path.rsplit("/", 1)[1], "deleted": True}, status=200)
        x.response_headers.append((b"content-type", b"application/json"))


def before_ack_does_nothing(x: Exchange) -> None:
    if x.method == "POST" and x.path.endswith("/ack"):
        x.forward = False
        x.status, x.response = 204, b""


def before_cross_tenant(x: Exchange) -> None:
    x.headers = [(k, v) for k, v in x.headers if k.lower() != b"authorization"] + [(b"authorization", b"Bearer shared")]


class EarlyRedelivery:
    """Hands every delivered message straight back (a nack behind the client's back): redelivery before ack_wait."""

    def __init__(self) -> None:
        self.pending: list[tuple[str, list[str]]] = []

    def __call__(self, x: Exchange) -> None:
        data = x.json()
        if x.path.endswith("/next") and isinstance(data, dict) and data.get("data"):
            self.pending.append((x.path.removesuffix("/next"), [m["ack_token"] for m in data["data"]]))


VARIANTS: dict[str, tuple[Callable | None, Callable | None]] = {
    "drop-required-field": (None, drop_required_field),
    "wrong-type": (None, wrong_type),
    "wrong-status": (None, wrong_status),
    "server-error": (None, server_error),
    "error-without-summary": (None, error_without_summary),
    "validation-without-fields": (None, validation_without_fields),
    "no-allow-header": (None, no_allow_header),
    "list-oldest-first": (None, list_oldest_first),
    "leaked-secret": (None, leaked_secret),
    "accepts-unknown-fields": (before_accept_unknown_fields, None),
    "delete-does-nothing": (before_delete_does_nothing, None),
    "ack-does-nothing": (before_ack_does_nothing, None),
    "cross-tenant": (before_cross_tenant, None),
    "early-redelivery": (None, None),  # built in `broken_app`: it needs state
}


def broken_app(kind: str, config: ServerConfig | None = None):
    inner = create_app(config or ServerConfig())
    before, after = VARIANTS[kind]
    redeliver = EarlyRedelivery() if kind == "early-redelivery" else None
    if redeliver is not None:
        after = redeliver

    async def call(scope, receive, send, exchange: Exchange) -> None:
        delivered: list = []

        async def replay():
            if delivered:
                return {"type": "http.disconnect"}
            delivered.append(True)
            return {"type": "http.request", "body": exchange.body, "more_body": False}

        async def capture(message):
            if message["type"] == "http.response.start":
                exchange.status, exchange.response_headers = message["status"], list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                exchange.response += message.get("body", b"")

        await inner({**scope, "headers": exchange.headers}, replay, capture)

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return await inner(scope, receive, send)
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        exchange = Exchange(scope["method"], scope["path"], list(scope["headers"]), body)
        if before:
            before(exchange)
        if exchange.forward:
            await call(scope, receive, send, exchange)
        if after:
            after(exchange)
        if redeliver is not None:
            while redeliver.pending:  # nack what was just delivered, behind the client's back
                consumer_path, tokens = redeliver.pending.pop()
                nack = Exchange(
                    "POST", f"{consumer_path}/nack", list(scope["headers"]), orjson.dumps({"ack_tokens": tokens})
                )
                nack_scope = {**scope, "path": nack.path, "raw_path": nack.path.encode(), "method": "POST"}
                await call(nack_scope, receive, send, nack)
        await send({"type": "http.response.start", "status": exchange.status, "headers": exchange.response_headers})
        await send({"type": "http.response.body", "body": exchange.response})

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=sorted(VARIANTS))
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    import uvicorn

    uvicorn.run(broken_app(args.kind), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
