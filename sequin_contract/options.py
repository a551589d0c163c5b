"""The kit's command-line options, as a pytest plugin (entry point `pytest11`) rather than in the kit's conftest:
pytest reads a package's conftest too late for its options under `--pyargs sequin_contract`. Loaded in every
pytest run where sequin-emulator is installed, so it only adds options, each prefixed `--sequin-` so it never
meets another plugin's (pytest-base-url has `--base-url`); everything else of the kit stays in its conftest.
"""

from __future__ import annotations

import os

import pytest

LIVE_MAX_RPS = 5.0


def pytest_addoption(parser: pytest.Parser) -> None:
    # Prefixed, so the kit runs beside plugins with options of the same name (pytest-base-url's --base-url).
    group = parser.getgroup("sequin contract")
    group.addoption("--sequin-base-url", default=os.environ.get("SEQUIN_BASE_URL"),
                    help="the deployment to check (env SEQUIN_BASE_URL; default: start an emulator)")
    group.addoption("--sequin-api-key", default=os.environ.get("SEQUIN_API_KEY"),
                    help="its API key (env SEQUIN_API_KEY)")
    group.addoption("--sequin-live", action="store_true",
                    help="a real deployment: pace requests, touch only own resources")
    group.addoption("--sequin-max-rps", type=float, default=None,
                    help=f"request rate cap (default {LIVE_MAX_RPS} with --sequin-live)")
