"""Schemathesis over the whole spec, control plane included, every check on, against a real server in strict
mode (an unknown token must be refused), with the contract kit's settings and hooks.

The README gives the same runs with more examples and several seeds; this one keeps the suite quick.
"""

from __future__ import annotations

import pytest

from sequin_contract.schemathesis_run import Deployment
from sequin_emulator.launcher import running_emulator


@pytest.mark.slow
def test_schemathesis_finds_no_failure_on_the_whole_spec(tmp_path):
    with running_emulator("--api-key", "st-key", "--validate-responses") as url:
        deployment = Deployment.probe(url, "st-key")
        assert deployment.emulator and not deployment.permissive
        for result in deployment.whole_spec("--max-examples", "8", "--seed", "1", report=tmp_path / "st.xml",
                                            timeout=600):
            assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
            assert "passed" in result.stdout
