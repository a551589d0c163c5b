"""Start an emulator in a child process on a free loopback port, and stop it again.

Used by our tests, and meant for anything that needs a real server (contract runs, users' test suites).
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_healthy(base_url: str, timeout: float = 15.0, process: subprocess.Popen | None = None) -> float:
    """Poll `/_emulator/health` until it answers 200; returns the seconds waited. Bounded by `timeout`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the emulator exited with {process.returncode} before it was healthy")
        try:
            with urllib.request.urlopen(f"{base_url}/_emulator/health", timeout=1) as response:
                if response.status == 200:
                    return time.monotonic() - started
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"the emulator at {base_url} was not healthy within {timeout} s")


@contextlib.contextmanager
def running_emulator(*args: str, timeout: float = 15.0) -> Iterator[str]:
    """`sequin-emulator serve <args>` on a free port; yields its base URL and stops it on exit."""
    with emulator_process(*args, timeout=timeout) as (_, base_url):
        yield base_url


@contextlib.contextmanager
def emulator_process(*args: str, timeout: float = 15.0) -> Iterator[tuple[subprocess.Popen, str]]:
    """Like `running_emulator`, and the process too, for tests that signal or kill it; stopped on exit, if it
    still runs. Its stderr goes to a temporary file (a pipe nobody reads would block a server that logs much),
    quoted when it fails to start."""
    port = free_port()
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen([sys.executable, "-m", "sequin_emulator", "serve", "--host", HOST, "--port", str(port),
                                    *args], stdout=subprocess.DEVNULL, stderr=log)
        base_url = f"http://{HOST}:{port}"
        try:
            try:
                wait_healthy(base_url, timeout, process)
            except (RuntimeError, TimeoutError) as exc:
                log.seek(0)
                raise RuntimeError(f"{exc}; its stderr:\n{log.read()[-4000:].decode(errors='replace')}") from None
            yield process, base_url
        finally:
            if process.poll() is None:
                process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
