"""The kit's HTTP client: paced, patient with 429s, and checking every answer against the spec.

Every response is checked the same way whatever the test: its status must be one the operation documents, and
its body must match the documented schema. So a dropped field, a wrong type, an undocumented status or a 500
fails the test that met it, and the failure says how to reproduce the request.
"""

from __future__ import annotations

import json
import re
import shlex
import time
from dataclasses import dataclass, field

import httpx

from sequin_emulator.spec.document import Operation, operations
from sequin_emulator.spec.validation import schema_errors

MAX_RETRIES = 5


class ContractViolation(AssertionError):
    pass


def _matcher(op: Operation) -> re.Pattern:
    """A parameter matches one path segment; one that takes the rest of the path (`{path:anything}`), any."""
    return re.compile("^" + re.sub(r"\{[^}:]+(:anything)?\}", lambda m: ".+" if m.group(1) else "[^/]+",
                                   op.route_path) + "$")


OPERATIONS = [(op, _matcher(op)) for op in operations()]


def operation_for(method: str, path: str) -> Operation | None:
    """The spec operation of a request; literal paths win over templated ones (`start-auth` over `{id}`)."""
    found = [op for op, pattern in OPERATIONS if op.method == method and pattern.match(path)]
    return min(found, key=lambda op: op.path.count("{"), default=None)


@dataclass
class Client:
    base_url: str
    api_key: str
    max_rps: float | None = None
    log: list[str] = field(default_factory=list)  # curl commands of the requests made, for reproduction

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.base_url, timeout=30)
        self._last_sent = 0.0

    def close(self) -> None:
        self.http.close()

    def _pace(self) -> None:
        if self.max_rps:
            wait = self._last_sent + 1 / self.max_rps - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        self._last_sent = time.monotonic()

    def curl(self, method: str, path: str, body: bytes | None, auth: bool) -> str:
        parts = ["curl", "-X", method, f"{self.base_url}{path}"]
        if auth:
            parts += ["-H", "Authorization: Bearer $SEQUIN_API_KEY"]
        if body is not None:
            parts += ["-H", "Content-Type: application/json", "-d", body.decode(errors="replace")]
        return " ".join(shlex.quote(p) for p in parts)

    def request(self, method: str, path: str, json_body=None, *, params: dict | None = None, content: bytes | None = None,
                auth: bool | str = True, check: bool = True) -> httpx.Response:
        """Send, honouring 429 Retry-After; then check the answer against the spec unless `check` is False."""
        headers = {}
        if auth:
            headers["Authorization"] = f"Bearer {auth if isinstance(auth, str) else self.api_key}"
        body = content if content is not None else (json.dumps(json_body).encode() if json_body is not None else None)
        if body is not None:
            headers["Content-Type"] = "application/json"
        url_path = path + ("?" + str(httpx.QueryParams(params)) if params else "")
        self.log.append(self.curl(method, url_path, body, bool(auth)))
        for attempt in range(MAX_RETRIES + 1):
            self._pace()
            response = self.http.request(method, path, params=params, content=body, headers=headers)
            if response.status_code != 429 or attempt == MAX_RETRIES:
                break
            time.sleep(min(30.0, float(response.headers.get("retry-after", "1") or 1)))
        if check:
            self.check(method, path, response)
        return response

    def check(self, method: str, path: str, response: httpx.Response) -> None:
        op = operation_for(method, path)
        status = response.status_code
        where = f"{method} {path} answered {status}"
        if op is None:
            if status not in (404, 405):
                raise ContractViolation(f"{where}, but the spec has no such operation")
            return
        if status >= 500 and str(status) not in op.responses:  # the Mutation API documents its 500 and 504
            raise ContractViolation(f"{where}: a server error ({response.text[:300]})\n  reproduce: {self.log[-1]}")
        if str(status) not in op.responses:
            raise ContractViolation(f"{where}, a status {op.operation_id} does not document\n  reproduce: {self.log[-1]}")
        pointer = op.response_schema_pointer(status)
        if pointer is None:
            return
        try:
            body = response.json()
        except ValueError:
            raise ContractViolation(f"{where} with a body that is not JSON\n  reproduce: {self.log[-1]}") from None
        problems = schema_errors(pointer, body)
        if problems:
            raise ContractViolation(f"{where} with a body that breaks the spec: {problems}\n  reproduce: {self.log[-1]}")

    def ok(self, method: str, path: str, json_body=None, status: int = 200, **kwargs) -> dict | None:
        response = self.request(method, path, json_body, **kwargs)
        if response.status_code != status:
            raise AssertionError(f"{method} {path}: expected {status}, got {response.status_code}: {response.text[:300]}"
                                 f"\n  reproduce: {self.log[-1]}")
        return response.json() if response.content else None
