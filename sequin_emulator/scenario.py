"""Scenario files: declarative preloads of a tenant (YAML or JSON), checked against the spec's `Scenario` schema.

The same loader serves `serve --scenario FILE`, `POST /_emulator/scenario` and the pytest plugin. Errors name
the file, the line and the path of the offending item, and say what is wrong.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import yaml

from sequin_emulator.domain import (
    accounts,
    consumers,
    credentials,
    engine,
    inputs,
    oauth_apps,
    postgres,
    streams,
    syncs,
    upstream_writes,
    webhooks,
)
from sequin_emulator.domain.clock import Clock
from sequin_emulator.domain.errors import DomainError, Invalid
from sequin_emulator.domain.tenant import Tenant, Tenants
from sequin_emulator.domain.timefmt import advanced, parse_clock_time
from sequin_emulator.spec.bodies import parse
from sequin_emulator.spec.validation import validated

SCHEMA = "#/components/schemas/Scenario"
DEFAULT_TOKEN = "demo"
# how a domain error's field is called in a scenario item
RENAMED = {"stream_id": "stream", "credential_id": "credential", "oauth_app_id": "oauth_app"}


class ScenarioError(Exception):
    """A scenario that cannot be loaded: the message names the file, line, path and problem."""


def _item_errors(prefix: str, exc: DomainError) -> Invalid:
    errors = getattr(exc, "errors", None) or {"": [exc.summary]}
    return Invalid({".".join(filter(None, (prefix, RENAMED.get(k, k)))): v for k, v in errors.items()}, exc.summary)


def _lookup(table: dict[str, str], name: str, path: str, kind: str) -> str:
    if name not in table:
        raise Invalid.field(path, f"names no {kind} of this scenario or tenant ({name!r})")
    return table[name]


def _unique(data: dict) -> None:
    for section, key in (("oauth_apps", "name"), ("credentials", "name"), ("streams", "slug"), ("syncs", "name"),
                         ("consumers", "name"), ("targets", "name"), ("postgres_consumers", "name"),
                         ("webhook_consumers", "name")):
        seen: set = set()
        for i, item in enumerate(data.get(section, [])):
            if item[key] in seen:
                raise Invalid.field(f"{section}.{i}.{key}", f"repeats {item[key]!r}; names must be unique")
            seen.add(item[key])


def _clock_moves(tenant: Tenant, clock: dict) -> Iterator[int]:
    """A new, empty tenant may start at any time; one with state only moves forward (a `now` it is already past
    leaves its time as it is, so scenarios combine): the time it moves to is yielded, for the caller to advance."""
    if "now" in clock:
        try:
            now = parse_clock_time(clock["now"])
        except ValueError as exc:
            raise Invalid.field("clock.now", str(exc)) from None
        if not (len(tenant.streams) or len(tenant.credentials) or len(tenant.oauth_apps)):
            tenant.clock = Clock(mode=tenant.clock.mode, now=now, scale=tenant.clock.scale)
        elif now > tenant.now():
            yield now
    tenant.clock.set(mode=clock.get("mode"), scale=clock.get("scale"))


Ids = dict[str, dict[str, str]]


def applying(tenant: Tenant, data: Any) -> Generator[int, None, Ids]:
    """Load a scenario into `tenant`: yields each time the tenant's clock must advance to (the caller advances it
    the way the API does, in slices, a failing engine contained), and returns the created ids by name. Raises
    Invalid with dotted paths."""
    data, errors = validated(SCHEMA, data)
    if errors:
        raise Invalid(errors, summary="The scenario does not match the Scenario schema.")
    _unique(data)
    existing = {s.id for s in tenant.streams}
    loader = _Loader(tenant, data)
    if "clock" in data:
        yield from _clock_moves(tenant, data["clock"])
    if "account_defaults" in data:
        defaults = dataclasses.replace(tenant.account_defaults, **data["account_defaults"])
        accounts.check_size(defaults.records_per_collection, defaults.history_days, "account_defaults.")
        tenant.account_defaults = defaults
    loader.load()
    if "advance" in data:
        try:
            yield advanced(tenant.now(), data["advance"])
        except ValueError as exc:
            raise Invalid.field("advance", str(exc)) from None
    loader.ids["streams"] = {s.slug: s.id for s in tenant.streams if s.id not in existing}  # this scenario's
    return loader.ids


def apply(tenant: Tenant, data: Any) -> Ids:
    """`applying`, for callers that do not answer anyone meanwhile (the command line, state files)."""
    loading = applying(tenant, data)
    try:
        while True:
            to = next(loading)
            engine.run_contained(tenant, to)
            engine.set_clock(tenant, to)
    except StopIteration as done:
        return done.value


class _Loader:
    """Creates a scenario's resources section by section, each item named, references looked up by name."""

    SECTIONS = ("oauth_apps", "credentials", "streams", "syncs", "consumers", "targets", "postgres_consumers",
                "webhook_consumers")

    def __init__(self, tenant: Tenant, data: dict) -> None:
        self.tenant, self.data = tenant, data
        self.ids: Ids = {section: {} for section in self.SECTIONS}
        self.ids["streams"] = {s.slug: s.id for s in tenant.streams}

    def load(self) -> None:
        for section in self.SECTIONS:
            create = getattr(self, f"_{section}")
            for i, item in enumerate(self.data.get(section, [])):
                path = f"{section}.{i}"
                try:
                    name, created = create(item)
                except DomainError as exc:
                    raise _item_errors(path, exc) from None
                self.ids[section][name] = created

    def _ref(self, section: str, name: str, path: str, kind: str) -> str:
        return _lookup(self.ids[section], name, path, kind)

    def _oauth_apps(self, item: dict) -> tuple[str, str]:
        return item["name"], oauth_apps.create(self.tenant, parse(inputs.NewOAuthApp, item)).id

    def _credentials(self, item: dict) -> tuple[str, str]:
        tenant = self.tenant
        body = {k: item[k] for k in ("name", "properties", "metadata") if k in item}
        if "oauth_app" in item:
            body["oauth_app_id"] = self._ref("oauth_apps", item["oauth_app"], "oauth_app", "OAuth app")
        created = credentials.import_(tenant, parse(inputs.CredentialImport, body))
        if "upstream" in item:
            accounts.configure(tenant, created, parse(inputs.UpstreamSettingsChanges, item["upstream"]))
        for j, obj in enumerate(item.get("objects", [])):
            account = accounts.account_for(tenant, created)
            try:
                collection = upstream_writes.collection_of(account, obj["collection_id"])
                upstream_writes.apply(tenant, account, "insert", collection, None, obj.get("data", {}))
            except DomainError as exc:
                raise _item_errors(f"objects.{j}", exc) from None
        return item["name"], created.id

    def _streams(self, item: dict) -> tuple[str, str]:
        return item["slug"], streams.create(self.tenant, parse(inputs.NewStream, item)).id

    def _syncs(self, item: dict) -> tuple[str, str]:
        body = {k: v for k, v in item.items() if k not in ("stream", "credential")}
        if "stream" in item:
            body["stream_id"] = self._ref("streams", item["stream"], "stream", "stream")
        body["credential_id"] = self._ref("credentials", item["credential"], "credential", "credential")
        return item["name"], syncs.create(self.tenant, parse(inputs.NewSync, body)).id

    def _consumers(self, item: dict) -> tuple[str, str]:
        body = {k: v for k, v in item.items() if k != "stream"}
        if "stream" in item:
            body["stream_id"] = self._ref("streams", item["stream"], "stream", "stream")
        return item["name"], consumers.create(self.tenant, parse(inputs.NewConsumer, body)).id

    def _targets(self, item: dict) -> tuple[str, str]:
        return item["name"], postgres.create_target(self.tenant, parse(inputs.NewPostgresTarget, item)).id

    def _postgres_consumers(self, item: dict) -> tuple[str, str]:
        body = {k: v for k, v in item.items() if k != "target"}
        body["target_id"] = self._ref("targets", item["target"], "target", "target")
        if item.get("syncs", ["*"]) != ["*"]:
            body["syncs"] = [self._ref("syncs", name, f"syncs.{j}", "sync") for j, name in enumerate(item["syncs"])]
        return item["name"], postgres.create_consumer(self.tenant, parse(inputs.NewPostgresConsumer, body)).id

    def _webhook_consumers(self, item: dict) -> tuple[str, str]:
        filters = {k: v for k, v in item.get("filters", {}).items() if k != "sync"}
        if "sync" in item.get("filters", {}):
            filters["sync_id"] = self._ref("syncs", item["filters"]["sync"], "filters.sync", "sync")
        body = {**item, "filters": filters}
        return item["name"], webhooks.create(self.tenant, parse(inputs.NewWebhookConsumer, body)).id


# ------------------------------------------------------------------ files

def _line(root: yaml.Node | None, path: str) -> int | None:
    """The 1-based line of the node at a dotted path, or of its deepest existing ancestor."""
    node, line = root, None
    for part in filter(None, path.split(".")):
        if node is None:
            break
        line = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            node = next((value for key, value in node.value if key.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and part.isdigit() and int(part) < len(node.value):
            node = node.value[int(part)]
        else:
            node = None
    return node.start_mark.line + 1 if node is not None else line


MAX_VALUES = 100_000  # values a scenario may expand to, aliases counted each time they are used


def _expanded_size(root: yaml.Node) -> int | None:
    """How many values the document holds once its aliases are expanded (capped just past MAX_VALUES), or
    None if an alias refers to a node that contains it. Iterative, memoized on nodes: an alias bomb of a
    kilobyte (each level repeating the one before ten times) is measured without being expanded."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        children = [part for pair in node.value for part in pair] if isinstance(node, yaml.MappingNode) else \
            node.value if isinstance(node, yaml.SequenceNode) else []
        if children_done:
            on_path.discard(id(node))
            sizes[id(node)] = min(MAX_VALUES + 1, 1 + sum(sizes[id(child)] for child in children))
            continue
        if id(node) in sizes:
            continue
        on_path.add(id(node))
        stack.append((node, True))
        for child in children:
            if id(child) in on_path:
                return None
            if id(child) not in sizes:
                stack.append((child, False))
    return sizes[id(root)]


_HERE = Path(__file__).resolve().parent
# Installed wheels carry the shipped scenarios inside the package; a source checkout reads the top-level fixtures/.
SHIPPED_CANDIDATES = (_HERE / "fixtures", _HERE.parent / "fixtures")


def shipped() -> dict[str, Path]:
    """The scenarios that come with the emulator, by name (`stripe-basic`, ...)."""
    folder = next((p for p in SHIPPED_CANDIDATES if p.is_dir()), None)
    return {} if folder is None else {p.stem: p for p in sorted(folder.glob("*.yaml"))}


def locate(scenario: str | Path) -> Path:
    """A scenario file: `scenario` itself if it is a file, else the shipped scenario of that name."""
    path = Path(scenario)
    if path.exists() or path.suffix or len(path.parts) > 1:
        return path
    found = shipped().get(str(scenario))
    if found is None:
        names = ", ".join(shipped()) or "none"
        raise ScenarioError(f"{scenario}: no such file, nor a shipped scenario (shipped: {names})")
    return found


def describe(path: Path) -> str:
    """A scenario's `description`, if it has one."""
    data, _ = read(path)
    return str(data.get("description", "")) if isinstance(data, dict) else ""


def read(scenario: str | Path) -> tuple[Any, yaml.Node | None]:
    """A scenario's content and its YAML node tree (for line numbers), or a ScenarioError saying why not.
    `scenario` is a file's path or a shipped scenario's name."""
    path = locate(scenario)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot be read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{path}: is not UTF-8 text (byte {exc.start} is {exc.object[exc.start]:#04x})") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        size = _expanded_size(root) if root is not None else 0
        if size is None:
            raise ScenarioError(f"{path}: an alias refers to a value that contains it")
        if size > MAX_VALUES:
            raise ScenarioError(f"{path}: expands to more than {MAX_VALUES:,} values (YAML aliases repeat what "
                                "they name); write the items out")
        return yaml.safe_load(text), root
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ScenarioError(f"{where}: not valid YAML or JSON: {getattr(exc, 'problem', exc)}") from None
    except RecursionError:
        raise ScenarioError(f"{path}: nests too deeply (a scenario nests at most 32 levels)") from None


def starting_at(scenario: str | Path | dict | None, clock: str | None, start_time: str | None) -> dict | None:
    """A scenario (a name, a file or a mapping; None: an empty one) whose clock is `clock` mode from `start_time`
    where those are given: a test's stated start wins over the scenario's own."""
    if clock is None and start_time is None:
        return None if scenario is None else scenario if isinstance(scenario, dict) else read(scenario)[0]
    data = dict(scenario if isinstance(scenario, dict) else read(scenario)[0] if scenario is not None else {})
    data["clock"] = {**(data.get("clock") or {}), **({"mode": clock} if clock else {}),
                     **({"now": start_time} if start_time else {})}
    return data


def load_file(tenants: Tenants, path: str | Path, token: str | None = None) -> dict[str, dict[str, str]]:
    """Load a scenario (a file, or a shipped one by name) into the tenant of `token` (else the file's `token`,
    else `demo`)."""
    data, root = read(path)
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}:1: a scenario is a mapping (streams:, syncs:, ...), not {type(data).__name__}")
    tenant = tenants.get(token or data.get("token") or DEFAULT_TOKEN)
    try:
        return apply(tenant, data)
    except Invalid as exc:
        field, reasons = next(iter(exc.errors.items()))
        line = _line(root, field)
        raise ScenarioError(f"{path}:{line or 1}: {field}: {reasons[0]}") from None

