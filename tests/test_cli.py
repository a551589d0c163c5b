"""The command line explains itself: every flag has a description and its default, the README lists every `serve`
flag, and the kit's commands name the missing extra instead of failing with a traceback."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sequin_emulator.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
# Run the CLI as if schemathesis were not installed: a None entry in sys.modules makes find_spec answer None.
WITHOUT_SCHEMATHESIS = "import sys; sys.modules['schemathesis'] = None; "


def commands() -> dict[str, argparse.ArgumentParser]:
    subparsers = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(subparsers.choices)


def flags(command: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in command._actions if a.option_strings and not isinstance(a, argparse._HelpAction)]


@pytest.mark.parametrize("name", ["serve", "scenarios", "contract", "schemathesis"])
def test_every_command_and_flag_has_a_description(name):
    command = commands()[name]
    assert command.description and len(command.description) > 40
    for action in flags(command):
        assert action.help, f"{name} {action.option_strings[0]} has no help"
        takes_value = not isinstance(action, argparse._StoreTrueAction | argparse._AppendAction)
        if takes_value:
            assert "default" in action.help, f"{name} {action.option_strings[0]} does not say its default"


def test_the_readme_lists_every_serve_flag_with_its_default():
    readme = (ROOT / "README.md").read_text()
    rows = dict(re.findall(r"^\| `(--[a-z-]+)[^`]*` \| ([^|]+) \|", readme, flags=re.MULTILINE))
    serve = flags(commands()["serve"])
    assert set(rows) == {a.option_strings[0] for a in serve}
    for action in serve:
        if isinstance(action.default, int | float) and not isinstance(action.default, bool):
            shown = rows[action.option_strings[0]].strip().strip("`")
            assert float(shown) == action.default, action.option_strings[0]


def run_without_schemathesis(code: str) -> subprocess.CompletedProcess:
    # Without Schemathesis its own pytest plugin would not be there either: plugins are named, not found.
    environment = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    return subprocess.run([sys.executable, "-c", WITHOUT_SCHEMATHESIS + code], capture_output=True, text=True,
                          timeout=120, cwd=ROOT, env=environment)


@pytest.mark.parametrize("command", ["contract", "schemathesis"])
def test_the_kit_commands_name_the_missing_extra(command):
    result = run_without_schemathesis(f"from sequin_emulator.cli import main; raise SystemExit(main([{command!r}]))")
    assert result.returncode == 1
    assert "pip install 'sequin-emulator[contract]'" in result.stderr and "Traceback" not in result.stderr


def test_the_kit_under_pytest_names_the_missing_extra(tmp_path):
    result = run_without_schemathesis(
        f"import pytest; raise SystemExit(pytest.main(['--pyargs', 'sequin_contract', '-p', 'no:cacheprovider', "
        f"'-p', 'sequin_contract.options', '--rootdir', {str(tmp_path)!r}]))")
    assert result.returncode == 4  # pytest's usage error
    assert "pip install 'sequin-emulator[contract]'" in result.stderr + result.stdout


def test_the_banner_names_the_bound_port_and_only_once_bound(tmp_path):
    """`--port 0` announces the port it got; a taken port fails without announcing a server (#21)."""
    import re
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    log = tmp_path / "stderr.txt"
    with log.open("w") as err:
        server = subprocess.Popen([sys.executable, "-m", "sequin_emulator", "serve", "--port", "0"], stderr=err,
                                  stdout=subprocess.DEVNULL)
    try:
        deadline, found = time.monotonic() + 20, None
        while found is None and time.monotonic() < deadline:
            found = re.search(r"on http://127\.0\.0\.1:(\d+) ", log.read_text())
            time.sleep(0.05)
        assert found is not None and int(found.group(1)) != 0, log.read_text()
        with urllib.request.urlopen(f"http://127.0.0.1:{found.group(1)}/openapi.json", timeout=5) as answer:
            assert answer.status == 200
    finally:
        server.terminate()
        server.wait(timeout=20)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        failed = subprocess.run([sys.executable, "-m", "sequin_emulator", "serve", "--port", str(taken.getsockname()[1])],
                                capture_output=True, text=True, timeout=60)
    assert failed.returncode != 0 and "on http://" not in failed.stderr and "address already in use" in failed.stderr
