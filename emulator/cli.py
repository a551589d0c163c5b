"""`sequin-emulator serve ...`: the command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from emulator import __version__
from emulator.domain.tenant import ClockSettings
from emulator.domain.timefmt import parse_timestamp
from emulator.domain.upstream import AccountSettings
from emulator.settings import DEFAULT_BODY_LIMIT, Settings

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 7376


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sequin-emulator", description="An in-memory emulator of the Sequin API.")
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the emulator's HTTP server")
    serve.add_argument("--host", default=DEFAULT_HOST)
    serve.add_argument("--port", type=int, default=DEFAULT_PORT)
    serve.add_argument("--seed", type=int, default=0, help="seed for ids and generated data (default 0)")
    serve.add_argument("--api-key", action="append", dest="api_keys", metavar="KEY",
                       help="accept only this token (repeatable); by default every token is its own tenant")
    serve.add_argument("--clock", choices=["real", "scaled", "manual"], default="real",
                       help="how new tenants' clocks run (default real)")
    serve.add_argument("--clock-scale", type=float, default=1.0, help="speed-up of the scaled clock")
    serve.add_argument("--start-time", help="initial emulator time, RFC 3339 (default: now)")
    serve.add_argument("--body-limit", type=int, default=DEFAULT_BODY_LIMIT, help="request body limit in bytes")
    serve.add_argument("--demo", action="store_true", help="preload demo data for the token `demo`")
    serve.add_argument("--records-per-collection", type=int, default=AccountSettings.records_per_collection,
                       help="objects per collection in a new simulated account (default %(default)s)")
    serve.add_argument("--history-days", type=int, default=AccountSettings.history_days,
                       help="how far back a new simulated account's objects were created (default %(default)s)")
    serve.add_argument("--changes-per-hour", type=float, default=AccountSettings.changes_per_hour,
                       help="upstream changes per hour of emulator time, per account (default %(default)s)")
    serve.add_argument("--scenario", action="append", default=[], metavar="FILE",
                       help="load a scenario file at start (repeatable); see fixtures/")
    serve.add_argument("--state", metavar="FILE",
                       help="load the emulator's state from FILE at start (if it exists), save it there on shutdown")
    serve.add_argument("--validate-responses", action="store_true",
                       help="check every answer against the spec (slower; for debugging the emulator)")
    contract = commands.add_parser("contract", help="run the contract-test kit against a deployment")
    contract.add_argument("--base-url", help="the deployment to check (default: start an emulator)")
    contract.add_argument("--api-key", help="its API key")
    contract.add_argument("--live", action="store_true",
                          help="a real deployment: pace requests, only read-only generated tests, own resources only")
    contract.add_argument("--max-rps", type=float, help="request rate cap (default 5 with --live)")
    contract.add_argument("--junit-xml", default="contract-report.xml", help="where to write the JUnit XML report")
    contract.add_argument("pytest_args", nargs="*", help="more pytest arguments (after --)")
    return parser


def run_contract(args: argparse.Namespace) -> int:
    import contract_tests
    import pytest

    kit = str(Path(contract_tests.__file__).resolve().parent)
    argv = [kit, "-p", "no:cacheprovider", "-q", f"--junitxml={args.junit_xml}", "-W", "ignore::pytest.PytestAssertRewriteWarning",
            "--rootdir", kit, *args.pytest_args]
    for option in ("base_url", "api_key", "max_rps"):
        if getattr(args, option) is not None:
            argv.append(f"--{option.replace('_', '-')}={getattr(args, option)}")
    if args.live:
        argv.append("--live")
    return int(pytest.main(argv))


def settings_from(args: argparse.Namespace) -> Settings:
    start = parse_timestamp(args.start_time) if args.start_time else None
    return Settings(seed=args.seed, api_keys=frozenset(args.api_keys) if args.api_keys else None,
                    clock=ClockSettings(mode=args.clock, start=start, scale=args.clock_scale),
                    body_limit=args.body_limit, validate_responses=args.validate_responses, demo=args.demo,
                    scenarios=tuple(args.scenario), state_file=args.state,
                    accounts=AccountSettings(records_per_collection=args.records_per_collection,
                                             history_days=args.history_days, changes_per_hour=args.changes_per_hour))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "contract":
        return run_contract(args)
    if args.command == "serve":
        import uvicorn

        from emulator.api.app import create_app

        from emulator.scenario import ScenarioError

        try:
            app = create_app(settings_from(args))
        except ScenarioError as exc:
            print(f"sequin-emulator: {exc}", file=sys.stderr)
            return 2
        print(f"sequin-emulator {__version__} on http://{args.host}:{args.port} (seed {args.seed})", file=sys.stderr)
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
