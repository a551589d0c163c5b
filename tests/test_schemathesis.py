"""Schemathesis, every check on, against a real server: the Management API and the OAuth link flow.

The README gives the same command for a longer run (more examples); this one keeps the suite quick.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from emulator.launcher import running_emulator

ROOT = Path(__file__).resolve().parent.parent
MANAGEMENT_TAGS = ["Streams", "Credentials", "OAuth apps", "Syncs", "HTTP consumers", "OAuth link"]


def test_schemathesis_finds_no_failure_on_the_management_api(tmp_path):
    st = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or "schemathesis"
    with running_emulator("--api-key", "st-key", "--validate-responses") as url:
        tags = [arg for tag in MANAGEMENT_TAGS for arg in ("--include-tag", tag)]
        result = subprocess.run(
            [st, "run", str(ROOT / "openapi" / "sequin.yaml"), "--url", url, "-H", "Authorization: Bearer st-key",
             "--checks", "all", *tags, "--max-examples", "15", "--workers", "1", "--seed", "1",
             "--report", "junit", "--report-dir", str(tmp_path)],
            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "passed" in result.stdout
