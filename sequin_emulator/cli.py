"""`sequin-emulator serve | scenarios | contract | schemathesis`: the command line."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sequin_emulator import __version__
from sequin_emulator.config import DEFAULT_BODY_LIMIT, ServerConfig
from sequin_emulator.domain.tenant import ClockStart
from sequin_emulator.domain.timefmt import parse_clock_time
from sequin_emulator.domain.upstream import AccountSettings
from sequin_emulator.spec.document import load_spec

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 7376


def _schema(name: str, field: str) -> dict:
    return load_spec()["components"]["schemas"][name]["properties"][field]


def _bounded(kind: type, schema: dict | None = None, minimum: float | None = None,
             maximum: float | None = None) -> Callable[[str], Any]:
    """An argparse type: `kind` within the bounds the spec gives the same setting (or the ones given)."""
    schema = schema or {}
    low = schema.get("minimum", minimum)
    above = schema.get("exclusiveMinimum")
    high = schema.get("maximum", maximum)

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'a whole number' if kind is int else 'a number'}") \
                from None
        if (low is not None and value < low) or (above is not None and value <= above) or \
                (high is not None and value > high):
            lowest = f"more than {above}" if above is not None else f"at least {low}"
            raise argparse.ArgumentTypeError(f"{text} must be {lowest}" + (f" and at most {high}" if high else ""))
        return value
    return parse


def _clock_time(text: str) -> int:
    try:
        return parse_clock_time(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} {exc} (RFC 3339, e.g. 2024-01-01T00:00:00Z)") from None


SERVE = """Run the emulator's HTTP server. Every bearer token is its own tenant (an isolated organization),
unless --api-key limits them. Stop it with Ctrl-C or SIGTERM."""

CONTRACT = """Run the contract-test kit against a deployment, emulated or real: scenario tests (round trips, errors,
secret masking, tenant isolation, redelivery, ...) and Schemathesis over the spec, every answer checked
against the spec. With no --base-url it starts an emulator and checks that. Needs the `contract` extra:
pip install 'sequin-emulator[contract]'."""

CONTRACT_EPILOG = """environment: SEQUIN_BASE_URL and SEQUIN_API_KEY stand for --base-url and --api-key;
SEQUIN_KIT_MAX_EXAMPLES sets Schemathesis' examples per operation (default 10).
reports: JUnit XML at --junit-xml, Schemathesis' own beside it (*.schemathesis.N.xml); the summary tables
end the output. The same kit under pytest: python -m pytest --pyargs sequin_contract
--sequin-base-url URL --sequin-api-key KEY [--sequin-live] [--sequin-max-rps N]."""

SCHEMATHESIS = """Run Schemathesis against a deployment with the kit's settings and hooks, every check on: the
spec from the deployment's GET /openapi.json (the shipped copy for a deployment that serves none). Arguments
after -- go to `schemathesis run` (e.g. -- --max-examples 100 --seed 1 --exclude-tag Emulator). Needs the
`contract` extra."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sequin-emulator", description="An in-memory emulator of the Sequin "
                                     "API, with its OpenAPI contract and a contract-test kit.")
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser("serve", help="run the emulator's HTTP server", description=SERVE)
    serve.add_argument("--host", default=DEFAULT_HOST, help="address to listen on (default %(default)s)")
    serve.add_argument("--port", type=_bounded(int, minimum=0, maximum=65535), default=DEFAULT_PORT,
                       help="port to listen on; 0 picks a free one (default %(default)s)")
    serve.add_argument("--seed", type=_bounded(int, minimum=0, maximum=2**53 - 1), default=0,
                       help="seed for ids, ack tokens and generated data (default %(default)s)")
    serve.add_argument("--api-key", action="append", dest="api_keys", metavar="KEY",
                       help="accept only this token (repeatable); by default every token is its own tenant")
    serve.add_argument("--demo", action="store_true",
                       help="preload demo data for the token `demo`: a stream, a Stripe and a HubSpot sync, a consumer")
    serve.add_argument("--clock", choices=["real", "scaled", "manual"], default="real",
                       help="how new tenants' clocks run: real time, scaled by --clock-scale, or manual (moved only "
                            "by POST /_emulator/clock/advance) (default %(default)s)")
    serve.add_argument("--clock-scale", type=_bounded(float, _schema("ClockSetting", "scale")), default=1.0, metavar="X",
                       help="speed-up of the scaled clock (default %(default)s)")
    serve.add_argument("--start-time", type=_clock_time, metavar="RFC3339",
                       help="new tenants' initial time, e.g. 2024-01-01T00:00:00Z (default: now)")
    serve.add_argument("--records-per-collection", default=AccountSettings.records_per_collection,
                       type=_bounded(int, _schema("UpstreamSettings", "records_per_collection")), metavar="N",
                       help="objects per collection in a new simulated account (default %(default)s)")
    serve.add_argument("--history-days", default=AccountSettings.history_days, metavar="N",
                       type=_bounded(int, _schema("UpstreamSettings", "history_days")),
                       help="how far back a new simulated account's objects were created (default %(default)s)")
    serve.add_argument("--changes-per-hour", default=AccountSettings.changes_per_hour, metavar="X",
                       type=_bounded(float, _schema("UpstreamSettings", "changes_per_hour")),
                       help="upstream actions per hour of emulator time, per account (default %(default)s)")
    serve.add_argument("--scenario", action="append", default=[], metavar="FILE|NAME",
                       help="load a scenario at start: a file, or a shipped one by name (repeatable; each into the "
                            "tenant its `token:` names, else `demo`); `sequin-emulator scenarios` lists the shipped ones")
    serve.add_argument("--state", metavar="FILE",
                       help="load the emulator's state from FILE at start (if it exists), save it there on shutdown; "
                            "the file holds every tenant's secrets and is written with mode 0600 (default: none)")
    serve.add_argument("--state-interval", metavar="SECONDS", type=_bounded(float, {"exclusiveMinimum": 0}),
                       help="with --state, also save every SECONDS while running, so a SIGKILL loses at most that "
                            "(default: only on shutdown)")
    serve.add_argument("--shutdown-timeout", metavar="SECONDS", type=_bounded(float, minimum=0, maximum=600),
                       default=5.0, help="how long a stop waits for requests in flight (default %(default)s)")
    serve.add_argument("--body-limit", type=_bounded(int, minimum=1, maximum=2**31), default=DEFAULT_BODY_LIMIT,
                       metavar="BYTES", help="largest request body accepted; larger ones get 413 (default %(default)s)")
    serve.add_argument("--validate-responses", action="store_true",
                       help="check every answer against the spec (slower; for debugging the emulator)")
    commands.add_parser("scenarios", help="list the shipped scenarios",
                        description="List the scenarios shipped with the emulator, by name, with their descriptions. "
                                    "Load one with `serve --scenario NAME` or the test client's load(NAME).")
    formatter = argparse.RawDescriptionHelpFormatter
    contract = commands.add_parser("contract", help="run the contract-test kit against a deployment",
                                   description=CONTRACT, epilog=CONTRACT_EPILOG, formatter_class=formatter)
    _target_options(contract, "check")
    contract.add_argument("--live", action="store_true",
                          help="a real deployment: pace requests, only read-only generated tests, touch only the "
                               "kit's own resources (named ct-<run id>-...)")
    contract.add_argument("--max-rps", type=float, metavar="N", help="request rate cap (default 5 with --live, "
                                                                      "else none)")
    contract.add_argument("--junit-xml", default="contract-report.xml", metavar="FILE",
                          help="where to write the JUnit XML report (default %(default)s)")
    contract.add_argument("pytest_args", nargs="*", metavar="PYTEST_ARGS",
                          help="more pytest arguments, after -- (e.g. -- -k isolation)")
    schemathesis = commands.add_parser("schemathesis", help="run Schemathesis with the kit's settings",
                                       description=SCHEMATHESIS, formatter_class=formatter)
    _target_options(schemathesis, "test")
    schemathesis.add_argument("schemathesis_args", nargs="*", metavar="SCHEMATHESIS_ARGS",
                              help="more `schemathesis run` arguments, after --")
    return parser


def _target_options(command: argparse.ArgumentParser, verb: str) -> None:
    command.add_argument("--base-url", default=os.environ.get("SEQUIN_BASE_URL"), metavar="URL",
                         help=f"the deployment to {verb} (env SEQUIN_BASE_URL; default: start an emulator)")
    command.add_argument("--api-key", default=os.environ.get("SEQUIN_API_KEY"), metavar="KEY",
                         help="its API key (env SEQUIN_API_KEY; no default: required with --base-url)")


def _kit_or_exit() -> None:
    """Stop with the message naming the extra when the kit's dependencies are not installed."""
    from sequin_contract import missing_extra

    missing = missing_extra()
    if missing:
        raise SystemExit(f"sequin-emulator: {missing}")


def run_contract(args: argparse.Namespace) -> int:
    _kit_or_exit()
    import pytest

    import sequin_contract

    kit = str(Path(sequin_contract.__file__).resolve().parent)
    argv = [kit, "-p", "no:cacheprovider", "-q", f"--junitxml={args.junit_xml}", "-W",
            "ignore::pytest.PytestAssertRewriteWarning", "--rootdir", kit, *args.pytest_args]
    for option in ("base_url", "api_key", "max_rps"):
        if getattr(args, option) is not None:
            argv.append(f"--sequin-{option.replace('_', '-')}={getattr(args, option)}")
    if args.live:
        argv.append("--sequin-live")
    return int(pytest.main(argv))


def run_schemathesis(args: argparse.Namespace) -> int:
    _kit_or_exit()
    import shlex
    import subprocess

    from sequin_contract.schemathesis_run import Deployment, environment
    from sequin_emulator.launcher import running_emulator

    def run(base_url: str, api_key: str) -> int:
        argv = Deployment.probe(base_url, api_key).command(*args.schemathesis_args)
        print(f"sequin-emulator: SCHEMATHESIS_HOOKS={environment()['SCHEMATHESIS_HOOKS']} {shlex.join(argv)}",
              file=sys.stderr)
        return subprocess.run(argv, env=environment()).returncode

    if args.base_url:
        if not args.api_key:
            raise SystemExit("sequin-emulator: --api-key (or SEQUIN_API_KEY) is required with --base-url")
        return run(args.base_url.rstrip("/"), args.api_key)
    with running_emulator("--api-key", "schemathesis") as url:
        return run(url, "schemathesis")


def config_from(args: argparse.Namespace) -> ServerConfig:
    return ServerConfig(seed=args.seed, api_keys=frozenset(args.api_keys) if args.api_keys else None,
                        clock=ClockStart(mode=args.clock, start=args.start_time, scale=args.clock_scale),
                    body_limit=args.body_limit, validate_responses=args.validate_responses, demo=args.demo,
                    scenarios=tuple(args.scenario), state_file=args.state, state_interval=args.state_interval,
                    shutdown_timeout=args.shutdown_timeout,
                    accounts=AccountSettings(records_per_collection=args.records_per_collection,
                                             history_days=args.history_days, changes_per_hour=args.changes_per_hour))


def list_scenarios() -> int:
    from sequin_emulator.scenario import describe, shipped

    for name, path in shipped().items():
        print(f"{name}: {describe(path)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "scenarios":
        return list_scenarios()
    if args.command == "contract":
        return run_contract(args)
    if args.command == "schemathesis":
        return run_schemathesis(args)
    if args.command == "serve":
        return serve(config_from(args), args.host, args.port)
    return 0


# A request's line and headers, at most (uvicorn's default is 16 KB): a Stripe id may have 5,000 characters, which
# percent-encoded take up to 60 KB, and a list request carries several.
REQUEST_HEAD_LIMIT = 1 << 20


def serve(config: ServerConfig, host: str, port: int) -> int:
    import uvicorn

    from sequin_emulator.api.app import create_app, stopping
    from sequin_emulator.scenario import ScenarioError

    try:
        app = create_app(config)
    except ScenarioError as exc:
        print(f"sequin-emulator: {exc}", file=sys.stderr)
        return 2

    class Server(uvicorn.Server):
        """Uvicorn, whose stop first wakes every long poll and awaited mutation: they answer with what there
        is, so a SIGTERM stops the server (and saves the state) within moments, not after their timeouts."""

        def handle_exit(self, sig: int, frame: Any) -> None:
            stopping(app)
            super().handle_exit(sig, frame)

        async def startup(self, sockets: list | None = None) -> None:
            """The banner once the port is bound (a taken port fails before it), with the real address."""
            await super().startup(sockets)
            if self.should_exit or not self.servers:
                return
            bound = self.servers[0].sockets[0].getsockname()
            shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
            print(f"sequin-emulator {__version__} on http://{shown}:{bound[1]} (seed {config.seed})", file=sys.stderr,
                  flush=True)

    server = Server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                   h11_max_incomplete_event_size=REQUEST_HEAD_LIMIT,
                                   timeout_graceful_shutdown=config.shutdown_timeout))  # type: ignore[arg-type]
    try:
        server.run()  # after a clean stop uvicorn raises the signal again, as the default handler would
    except KeyboardInterrupt:
        pass
    return 0
