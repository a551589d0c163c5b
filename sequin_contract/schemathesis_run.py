"""One way to run Schemathesis against a deployment, with the kit's settings and hooks, used by the kit's own
generated tests, by `sequin-emulator schemathesis` and by our test suite, so every run is configured alike.

The spec comes from the deployment itself (`GET /openapi.json`) when it is an emulator, else from the copy
shipped with the emulator (a real deployment does not serve the emulator's spec).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

from sequin_emulator.spec.document import spec_path

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "schemathesis.toml"
HOOKS = f"{__package__}.schemathesis_hooks"


@dataclass(frozen=True)
class Deployment:
    """What a run needs to know of its target: where it is, its key, and how it answers."""

    base_url: str
    api_key: str
    emulator: bool  # serves the control plane (and its own spec)
    permissive: bool  # accepts any token (an emulator without --api-key: every token is a tenant)

    @classmethod
    def probe(cls, base_url: str, api_key: str) -> Deployment:
        base_url = base_url.rstrip("/")
        try:
            emulator = httpx.get(f"{base_url}/_emulator/health", timeout=10).status_code == 200
        except httpx.HTTPError:
            emulator = False
        any_token = httpx.get(f"{base_url}/v1/streams", headers={"Authorization": "Bearer kit-any-token"}, timeout=10)
        return cls(base_url, api_key, emulator, permissive=any_token.status_code == 200)

    def command(self, *arguments: str) -> list[str]:
        """`schemathesis run` of the spec against this deployment, every check on, with the kit's settings. On a
        permissive deployment an unknown token is rightly accepted, so that one check is left out."""
        executable = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or "schemathesis"
        spec = f"{self.base_url}/openapi.json" if self.emulator else str(spec_path())
        return [executable, "--config-file", str(CONFIG), "run", spec, "--url", self.base_url,
                "-H", f"Authorization: Bearer {self.api_key}", "--checks", "all", "--workers", "1",
                *(["--exclude-checks", "ignored_auth"] if self.permissive else []), *arguments]

    def parts(self) -> list[list[str]]:
        """The tag selections that together cover the spec: the API, then (on an emulator) its control plane."""
        return [["--exclude-tag", "Emulator"], *([["--include-tag", "Emulator"]] if self.emulator else [])]

    def reset(self) -> None:
        """Forget the tenant's state on an emulator: the control plane's generated calls leave faults (latency,
        429s) and the API run leaves simulated accounts whose clock advances would take long."""
        if self.emulator:
            httpx.post(f"{self.base_url}/_emulator/reset", headers={"Authorization": f"Bearer {self.api_key}"},
                       timeout=60)

    def whole_spec(self, *arguments: str, report: Path | None = None,
                   timeout: float = 1800) -> list[subprocess.CompletedProcess]:
        """Every part in turn, with a JUnit report per part; on an emulator the tenant is reset after each, so
        the control plane's run starts clean and leaves no faults behind."""
        results = []
        for number, selection in enumerate(self.parts()):
            junit = ["--report", "junit", "--report-junit-path", str(report.with_suffix(f".{number}.xml"))] \
                if report else []
            results.append(run(self.command(*arguments, *selection, *junit), timeout=timeout))
            self.reset()
        return results


def environment() -> dict[str, str]:
    """The environment that loads the kit's hooks (Schemathesis reads them only from SCHEMATHESIS_HOOKS)."""
    here = str(HERE.parent)
    return {**os.environ, "SCHEMATHESIS_HOOKS": HOOKS,
            "PYTHONPATH": os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))}


def run(command: list[str], timeout: float) -> subprocess.CompletedProcess:
    """Run a `Deployment.command(...)` to the end, its output captured."""
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=environment())
