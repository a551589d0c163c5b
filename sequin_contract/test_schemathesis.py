"""Schemathesis suites generated from the spec: stateless (examples, coverage, fuzzing) and stateful (the
spec's links: stream → sync → consumer → next → ack → delete), with every check on.

Against an emulator the whole spec runs, in two invocations: the API first, then the control plane (tag
Emulator). The control plane's generated calls set faults (latency, 429s) on the tenant that only slow `/v1`,
so it runs once the API run is done. Against a real deployment the control plane is excluded, and with
`--sequin-live` only read operations run, statelessly: generated writes would create resources outside the kit's
name prefix.
"""

from __future__ import annotations

import os
from pathlib import Path

from sequin_contract.schemathesis_run import Deployment


def test_schemathesis(target, request, tmp_path):
    from sequin_contract.conftest import SCHEMATHESIS_REPORTS

    max_examples = os.environ.get("SEQUIN_KIT_MAX_EXAMPLES", "10")
    report = Path(request.config.getoption("--junitxml") or tmp_path / "kit.xml").with_suffix(".schemathesis.xml")
    options = ["--max-examples", max_examples, "--seed", "1"]
    if target.live:
        options += ["--include-method", "GET", "--phases", "examples,coverage,fuzzing",
                    "--rate-limit", f"{int(request.config.getoption('sequin_max_rps') or 5)}/s"]
    deployment = Deployment.probe(target.base_url, target.api_key)
    results = deployment.whole_spec(*options, report=report)
    SCHEMATHESIS_REPORTS.extend(str(report.with_suffix(f".{n}.xml")) for n in range(len(results)))
    for result in results:
        print(result.stdout[-20000:])
    failures = [r.stdout[-8000:] + r.stderr[-2000:] for r in results if r.returncode != 0]
    assert not failures, "\n".join(failures)
