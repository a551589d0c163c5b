"""The contract kit checks itself: it passes on the true emulator and fails on every deliberately broken one."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sequin_contract.broken import VARIANTS
from sequin_emulator.launcher import HOST, free_port, wait_healthy

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def run_kit_against(kind: str | None) -> subprocess.CompletedProcess:
    port = free_port()
    server_args = ["-m", "sequin_contract.broken", kind] if kind else ["-m", "sequin_emulator", "serve"]
    server = subprocess.Popen([sys.executable, *server_args, "--port", str(port)], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_healthy(f"http://{HOST}:{port}", process=server)
        return subprocess.run([sys.executable, "-m", "pytest", "sequin_contract/test_contract.py", "-q", "-p",
                               "no:cacheprovider", "--sequin-base-url", f"http://{HOST}:{port}", "--sequin-api-key", "kit"],
                              cwd=ROOT, capture_output=True, text=True, timeout=300)
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="module")
def results() -> dict:
    kinds = [None, *sorted(VARIANTS)]
    with ThreadPoolExecutor(max_workers=3) as pool:
        return dict(zip(kinds, pool.map(run_kit_against, kinds), strict=True))


def test_there_are_at_least_twelve_kinds_of_breakage():
    assert len(VARIANTS) >= 12


def test_the_kit_passes_on_the_true_emulator(results):
    outcome = results[None]
    assert outcome.returncode == 0, outcome.stdout[-4000:]
    assert "sequin contract summary" in outcome.stdout


@pytest.mark.parametrize("kind", sorted(VARIANTS))
def test_the_kit_catches(results, kind):
    outcome = results[kind]
    assert outcome.returncode == 1, f"the kit did not catch {kind}:\n{outcome.stdout[-3000:]}"
    assert "failed" in outcome.stdout.splitlines()[-1]


@pytest.mark.parametrize("given,sent", [({"wait_for": 5000}, {"wait_for": 50}), ({"wait_for": 20}, {"wait_for": 20}),
                                        ({"wait_for": 10000.0}, {"wait_for": 50}),
                                        ({"wait_for": 60001}, {"wait_for": 60001}), ({"wait_for": 1.5}, {"wait_for": 1.5}),
                                        ({"wait_for": -1}, {"wait_for": -1}), ({"wait_for": True}, {"wait_for": True})])
def test_the_kits_hook_shortens_valid_waits_and_leaves_invalid_ones_to_be_refused(given, sent):
    """A deliberately invalid `wait_for` (negative testing) reaches the API as generated (#21)."""
    from sequin_contract.schemathesis_hooks import map_body

    assert map_body(None, dict(given)) == sent
