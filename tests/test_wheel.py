"""What a pip user gets: the wheel, installed into a fresh virtual environment (with pytest-base-url beside it, as
pytest-playwright and pytest-selenium bring it), used from an empty folder with nothing of this repository on
the path: the README's pytest example, taken from the README itself, shipped scenarios by name, the kit against a
running emulator, and Schemathesis with the shipped settings."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import venv
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sequin_emulator.launcher import HOST, free_port, wait_healthy

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


class Installed:
    """A virtual environment with the wheel installed, and an empty folder to work in."""

    def __init__(self, home: Path, folder: Path) -> None:
        self.bin = home / ("Scripts" if os.name == "nt" else "bin")
        self.folder = folder
        self.environment = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        self.environment["PATH"] = os.pathsep.join([str(self.bin), os.environ.get("PATH", "")])

    def run(self, *command: str, timeout: float = 300) -> subprocess.CompletedProcess:
        program = str(self.bin / command[0])
        return subprocess.run([program, *command[1:]], cwd=self.folder, env=self.environment, capture_output=True,
                              text=True, timeout=timeout)

    @contextlib.contextmanager
    def serve(self, *arguments: str) -> Iterator[str]:
        """The installed `sequin-emulator serve` on a free port; yields its URL, and stops it."""
        port = free_port()
        process = subprocess.Popen([str(self.bin / "sequin-emulator"), "serve", "--port", str(port), *arguments],
                                   cwd=self.folder, env=self.environment, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        try:
            url = f"http://{HOST}:{port}"
            wait_healthy(url, timeout=60, process=process)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=30)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)],
                   check=True, capture_output=True, timeout=300)
    return next(out.glob("sequin_emulator-*.whl"))


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    home = tmp_path_factory.mktemp("venv")
    venv.create(home, with_pip=True)
    user = Installed(home, tmp_path_factory.mktemp("empty-project"))
    result = user.run("python", "-m", "pip", "install", "--quiet", f"{wheel}[contract]", "pytest-base-url",
                      timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    yield user


def test_the_wheel_carries_its_data_and_points_nowhere_outside(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        texts = {n: archive.read(n).decode("utf-8", "replace") for n in names}
    assert {n.split("/")[0] for n in names} == {"sequin_emulator", "sequin_contract", *[n.split("/")[0] for n in names
                                                                                if ".dist-info/" in n]}
    for shipped in ("sequin_emulator/openapi/sequin.yaml", "sequin_emulator/fixtures/stripe-basic.yaml",
                    "sequin_contract/schemathesis.toml", "sequin_contract/schemathesis_hooks.py"):
        assert shipped in names
    assert not [n for n, text in texts.items() if "../shared" in text or "CONTRACT.md" in text]


def test_the_readme_pytest_examples_run_in_an_empty_folder(installed):
    """Each test file the README shows (the in-process one and the server one), as it is."""
    readme = (ROOT / "README.md").read_text()
    examples = re.findall(r"```python\n(# (test_\w+\.py)\n.*?)```", readme, re.DOTALL)
    assert {name for _, name in examples} >= {"test_in_process.py", "test_customer_mirror.py"}
    for text, name in examples:
        (installed.folder / name).write_text(text)
    result = installed.run("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", *[name for _, name in examples])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert f"{len(examples)} passed" in result.stdout
    where = installed.run("python", "-c", "import sequin_emulator, sequin_contract; print(sequin_emulator.__file__)").stdout
    assert "site-packages" in where, "the test ran against the repository, not the installed wheel"


def test_shipped_scenarios_by_name(installed):
    listed = installed.run("sequin-emulator", "scenarios").stdout.splitlines()
    assert sorted(line.split(":")[0] for line in listed) == ["faults", "hubspot-crm", "stripe-basic"]
    with installed.serve("--scenario", "stripe-basic", "--scenario", "hubspot-crm") as url:
        for token, sync in (("stripe-basic", "Acme Stripe"), ("hubspot-crm", "CRM")):
            answer = httpx.get(f"{url}/v1/syncs", headers={"Authorization": f"Bearer {token}"})
            assert [s["name"] for s in answer.json()["data"]] == [sync]


def test_the_kit_and_schemathesis_against_a_running_emulator_beside_pytest_base_url(installed):
    assert installed.run("python", "-c", "import pytest_base_url").returncode == 0
    with installed.serve("--api-key", "kit") as url:
        as_pytest = installed.run("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "--pyargs",
                                  "sequin_contract", "--sequin-base-url", url, "--sequin-api-key", "kit",
                                  "-k", "not schemathesis")
        assert as_pytest.returncode == 0, as_pytest.stdout[-3000:] + as_pytest.stderr[-2000:]
        assert "sequin contract summary" in as_pytest.stdout and " passed" in as_pytest.stdout
        as_command = installed.run("sequin-emulator", "contract", "--base-url", url, "--api-key", "kit", "--",
                                   "-k", "isolated or round_trip")
        assert as_command.returncode == 0, as_command.stdout[-3000:]
        assert (installed.folder / "contract-report.xml").exists()
        fuzz = installed.run("sequin-emulator", "schemathesis", "--base-url", url, "--api-key", "kit", "--",
                             "--max-examples", "2", "--phases", "examples,fuzzing", "--include-tag", "Streams")
        assert fuzz.returncode == 0, fuzz.stdout[-3000:] + fuzz.stderr[-2000:]
        assert f"run {url}/openapi.json" in fuzz.stderr and "SCHEMATHESIS_HOOKS=sequin_contract" in fuzz.stderr
