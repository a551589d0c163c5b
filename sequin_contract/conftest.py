"""Targets, the paced client, and the tracker that cleans up after every test, even when it fails."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from sequin_contract import missing_extra
from sequin_contract.client import Client
from sequin_contract.options import LIVE_MAX_RPS

RUN = uuid.uuid4().hex[:8]
SCHEMATHESIS_REPORTS: list[str] = []  # JUnit files of this session's Schemathesis runs, for the summary


@dataclass(frozen=True)
class Target:
    base_url: str
    api_key: str
    live: bool  # a real deployment: only touch what the kit created, pace requests
    emulator: bool  # the control plane answers, so time and upstream changes can be driven


def pytest_configure(config: pytest.Config) -> None:
    missing = missing_extra()
    if missing:
        raise pytest.UsageError(missing)


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    config = request.config
    base_url, api_key = config.getoption("sequin_base_url"), config.getoption("sequin_api_key")
    live = config.getoption("sequin_live")
    if not base_url:
        from sequin_emulator.launcher import running_emulator

        api_key = f"kit-{RUN}"
        with running_emulator() as url:
            yield Target(url, api_key, live=False, emulator=True)
        return
    if not api_key:
        raise pytest.UsageError("--sequin-api-key (or SEQUIN_API_KEY) is required with --sequin-base-url")
    try:
        emulator = not live and httpx.get(f"{base_url}/_emulator/health", timeout=10).status_code == 200
    except httpx.HTTPError:
        emulator = False
    yield Target(base_url.rstrip("/"), api_key, live=live, emulator=emulator)


@pytest.fixture(scope="session")
def client(target: Target, request: pytest.FixtureRequest) -> Iterator[Client]:
    rate = request.config.getoption("sequin_max_rps") or (LIVE_MAX_RPS if target.live else None)
    kit_client = Client(target.base_url, target.api_key, max_rps=rate)
    yield kit_client
    kit_client.close()


@dataclass
class Kit:
    """What a test works with: the client, a name prefix for everything it creates, and cleanup."""

    client: Client
    target: Target
    prefix: str
    created: list[tuple[str, str]] = field(default_factory=list)  # (collection path, id), in creation order
    first_request: int = 0

    def name(self, what: str) -> str:
        return f"{self.prefix}-{what}"

    def create(self, path: str, body: dict) -> dict:
        made = self.client.ok("POST", path, body)
        assert made is not None, f"POST {path} answered no body"
        self.created.append((path, made["id"]))
        return made

    def stream(self, what: str = "stream") -> dict:
        return self.create("/v1/streams", {"slug": self.name(what)})

    def sync(self, stream: dict, **fields) -> dict:
        body = {"stream_id": stream["id"], "name": self.name("sync"), "collection_ids": ["stripe:customer"],
                "credential": {"properties": {"kind": "stripe_key", "secret": f"sk_test_{self.prefix}"}}, **fields}
        sync = self.create("/v1/syncs", body)
        self.created.append(("/v1/credentials", sync["credential_id"]))
        return sync

    def consumer(self, stream: dict, **fields) -> dict:
        return self.create("/v1/http-consumers", {"stream_id": stream["id"], "name": self.name("consumer"), **fields})

    def needs_emulator(self, why: str) -> None:
        if not self.target.emulator:
            pytest.skip(f"needs the emulator's control plane to {why}; on a real deployment this is not checked")

    def inject(self, sync: dict, *upstream_ids: str, data: dict | None = None) -> None:
        self.needs_emulator("put records into a stream")
        records = [{"collection_id": "stripe:customer", "upstream_id": u, "data": data or {"id": u}} for u in upstream_ids]
        self.client.ok(
            "POST", f"/_emulator/streams/{sync['stream_id']}/records", {"sync_id": sync["id"], "records": records}
        )

    def pass_time(self, by: str, seconds: float) -> None:
        """Let `by` of the target's time pass: the emulator's clock is advanced; elsewhere the kit waits."""
        if self.target.emulator:
            self.client.ok("POST", "/_emulator/clock/advance", {"by": by})
        else:
            import time

            time.sleep(seconds)

    def cleanup(self) -> None:
        order = ["/v1/consumers/webhook", "/v1/http-consumers", "/v1/syncs", "/v1/streams", "/v1/credentials",
                 "/v1/oauth-apps"]
        for path, resource_id in sorted(reversed(self.created), key=lambda c: order.index(c[0])):
            self.client.request("DELETE", f"{path}/{resource_id}", check=False)


@pytest.fixture
def kit(client: Client, target: Target, request: pytest.FixtureRequest) -> Iterator[Kit]:
    test = request.node.name.split("[")[0].removeprefix("test_").replace("_", "-")[:20].strip("-")
    made = Kit(client, target, prefix=f"ct-{RUN}-{test}", first_request=len(client.log))
    yield made
    made.cleanup()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    report = yield
    made = item.funcargs.get("kit") if hasattr(item, "funcargs") else None
    if report.when == "call" and report.failed and made is not None:
        requests = made.client.log[made.first_request:][-5:]
        report.sections.append(("requests to reproduce (last 5)", "\n".join(requests)))
    return report


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    rows = []
    for outcome in ("passed", "failed", "skipped", "error"):
        for report in terminalreporter.stats.get(outcome, []):
            if getattr(report, "when", "call") in ("call", "setup") and hasattr(report, "nodeid"):
                reason = ""
                if outcome == "skipped" and isinstance(report.longrepr, tuple):
                    reason = report.longrepr[2]
                rows.append((report.nodeid.split("::")[-1], outcome.upper(), reason))
    _schemathesis_summary(terminalreporter)
    if rows:
        terminalreporter.section("sequin contract summary")
        width = max(len(r[0]) for r in rows)
        for name, outcome, reason in sorted(rows):
            terminalreporter.write_line(f"{name.ljust(width)}  {outcome:7}  {reason}")


def _schemathesis_summary(terminalreporter) -> None:
    """Operation × result from Schemathesis' JUnit report; a failure shows its checks and how to reproduce it."""
    import xml.etree.ElementTree as ElementTree

    for path in SCHEMATHESIS_REPORTS:
        try:
            cases = ElementTree.parse(path).getroot().iter("testcase")
        except (OSError, ElementTree.ParseError):
            continue
        terminalreporter.section("schemathesis: operation × checks")
        for case in sorted(cases, key=lambda c: c.get("name", "")):
            problems = [p for p in case if p.tag in ("failure", "error")]
            verdict = "FAILED" if problems else ("SKIPPED" if case.find("skipped") is not None else "passed")
            terminalreporter.write_line(f"{case.get('name', '?'):48}  {verdict}")
            for problem in problems:
                detail = f"{problem.get('message') or ''}\n{problem.text or ''}".strip()
                for line in [line for line in detail.splitlines() if line.strip()][:14]:
                    terminalreporter.write_line(f"    {line}")
