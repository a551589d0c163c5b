"""Schemathesis suites generated from the spec: stateless (examples, coverage, fuzzing) and stateful (the
spec's links: stream → sync → consumer → next → ack → delete), with every check on.

Against an emulator the whole spec runs, in two invocations: the API first, then the control plane (tag
Emulator). The control plane's generated calls set faults (latency, 429s) on the tenant that only slow `/v1`,
so it runs once the API run is done. Against a real deployment the control plane is excluded, and with
`--live` only read operations run, statelessly: generated writes would create resources outside the kit's
name prefix.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
SPEC = HERE.parent / "openapi" / "sequin.yaml" if (HERE.parent / "openapi").exists() else \
    HERE.parent / "emulator" / "openapi" / "sequin.yaml"
CONFIG = HERE / "schemathesis.toml"
HOOKS = "contract_tests.schemathesis_hooks"


def schemathesis(base_url: str, api_key: str, *arguments: str, timeout: float = 1800) -> subprocess.CompletedProcess:
    """One `schemathesis run` of the spec against `base_url`, every check on, with the kit's settings and hooks."""
    command = [shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or "schemathesis",
               "--config-file", str(CONFIG), "run", str(SPEC), "--url", base_url,
               "-H", f"Authorization: Bearer {api_key}", "--checks", "all", "--workers", "1", *arguments]
    environment = {**os.environ, "SCHEMATHESIS_HOOKS": HOOKS,
                   "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE.parent), os.environ.get("PYTHONPATH")]))}
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=environment)


def whole_spec(emulator: bool) -> list[list[str]]:
    """The tag selections that together cover the spec: the API, then (on an emulator) its control plane."""
    return [["--exclude-tag", "Emulator"], *([["--include-tag", "Emulator"]] if emulator else [])]


def test_schemathesis(target, request, tmp_path):
    from contract_tests.conftest import SCHEMATHESIS_REPORTS

    max_examples = os.environ.get("SEQUIN_KIT_MAX_EXAMPLES", "10")
    report = Path(request.config.getoption("--junitxml") or tmp_path / "kit.xml").with_suffix(".schemathesis.xml")
    common = ["--max-examples", max_examples, "--seed", "1"]
    if target.live:
        common += ["--include-method", "GET", "--phases", "examples,coverage,fuzzing",
                   "--rate-limit", f"{int(request.config.getoption('max_rps') or 5)}/s"]
    permissive = httpx.get(f"{target.base_url}/v1/streams", headers={"Authorization": "Bearer kit-any-token"},
                           timeout=10).status_code == 200
    if permissive:  # every token is its own tenant here, so an unknown token is rightly accepted
        common += ["--exclude-checks", "ignored_auth"]
    failures = []
    for number, selection in enumerate(whole_spec(target.emulator)):
        part = report.with_suffix(f".{number}.xml")
        result = schemathesis(target.base_url, target.api_key, *common, *selection, "--report", "junit",
                              "--report-junit-path", str(part))
        SCHEMATHESIS_REPORTS.append(str(part))
        print(result.stdout[-20000:])
        if result.returncode != 0:
            failures.append(result.stdout[-8000:] + result.stderr[-2000:])
    assert not failures, "\n".join(failures)
