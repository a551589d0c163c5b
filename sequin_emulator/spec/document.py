"""The OpenAPI document, loaded once, and an index of its operations.

Everything the pipeline checks about a request (auth, parameters, body) is read from here, so the spec, the
validation and the error bodies cannot drift apart.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import yaml

_HERE = Path(__file__).resolve().parent
# Installed wheels carry a copy inside the package; a source checkout reads the top-level openapi/ folder.
OPENAPI_FOLDERS = (_HERE.parent / "openapi", _HERE.parent.parent / "openapi")
METHODS = ("get", "put", "post", "delete", "patch")


def spec_path(name: str = "sequin.yaml") -> Path:
    """An OpenAPI document of the project: the Sequin API's (`sequin.yaml`) or the provider APIs' (`providers.yaml`)."""
    return next(folder / name for folder in OPENAPI_FOLDERS if (folder / name).exists())


@functools.cache
def load_spec() -> dict:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with spec_path().open() as f:
        return yaml.load(f, Loader=loader)


def escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def resolve(spec: dict, node: dict, pointer: str) -> tuple[dict, str]:
    """Follow `$ref`s from `node` (found at `pointer`) to the object they name, and its pointer."""
    while "$ref" in node:
        pointer = node["$ref"]
        node = spec
        for token in pointer.lstrip("#/").split("/"):
            node = node[token.replace("~1", "/").replace("~0", "~")]
    return node, pointer


@dataclass(frozen=True)
class Parameter:
    name: str
    location: str
    required: bool
    schema: dict  # resolved, for coercing strings to the declared type
    pointer: str  # where the schema lives, for the validator
    json_content: bool  # declared with `content: application/json`: the value is URL-encoded JSON


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    path: str
    secured: bool
    parameters: tuple[Parameter, ...]
    body_pointer: str | None
    body_required: bool
    responses: dict = field(hash=False, compare=False)
    response_pointer: str = ""
    body_limit: int | None = None  # `x-body-limit`: this operation's own request body limit
    max_depth: int = 32  # `x-max-depth`: how deep its body may nest
    head_allowed: bool = True  # False (`x-no-head`) for a GET with effects: HEAD would have them unseen
    raw_body: bool = False  # `x-raw-body` on its request body: passed on unread (the Proxy API's provider bodies)

    @property
    def route_path(self) -> str:
        """The path as Starlette routes it: a parameter marked `x-rest-of-path` takes the rest, slashes and all."""
        path = self.path
        for param in self.parameters:
            if param.location == "path" and param.schema.get("x-rest-of-path"):
                path = path.replace(f"{{{param.name}}}", f"{{{param.name}:anything}}")
        return path

    def response_schema_pointer(self, status: int) -> str | None:
        response = self.responses.get(str(status))
        if response is None:
            return None
        spec = load_spec()
        node, pointer = resolve(spec, response, f"{self.response_pointer}/{status}")
        if "application/json" not in node.get("content", {}):
            return None
        return f"{pointer}/content/application~1json/schema"


def _parameter(spec: dict, node: dict, pointer: str) -> Parameter:
    param, pointer = resolve(spec, node, pointer)
    if "content" in param:
        schema_pointer, json_content = f"{pointer}/content/application~1json/schema", True
        schema = param["content"]["application/json"]["schema"]
    else:
        schema_pointer, json_content, schema = f"{pointer}/schema", False, param["schema"]
    schema, _ = resolve(spec, schema, schema_pointer)
    return Parameter(param["name"], param["in"], param.get("required", False), schema, schema_pointer, json_content)


@functools.cache
def operations() -> tuple[Operation, ...]:
    spec = load_spec()
    default_secured = bool(spec.get("security"))
    found = []
    for path, item in spec["paths"].items():
        item_pointer = f"#/paths/{escape(path)}"
        shared = [(p, f"{item_pointer}/parameters/{i}") for i, p in enumerate(item.get("parameters", []))]
        for method in METHODS:
            if method not in item:
                continue
            op = item[method]
            op_pointer = f"{item_pointer}/{method}"
            own = [(p, f"{op_pointer}/parameters/{i}") for i, p in enumerate(op.get("parameters", []))]
            body_pointer, body_required, raw_body = None, False, False
            if "requestBody" in op:
                body, pointer = resolve(spec, op["requestBody"], f"{op_pointer}/requestBody")
                raw_body = bool(body.get("x-raw-body"))
                if not raw_body:
                    body_pointer, body_required = f"{pointer}/content/application~1json/schema", body.get("required", False)
            found.append(Operation(
                operation_id=op["operationId"], method=method.upper(), path=path,
                secured=bool(op.get("security", spec.get("security"))) if "security" in op else default_secured,
                parameters=tuple(_parameter(spec, p, ptr) for p, ptr in shared + own),
                body_pointer=body_pointer, body_required=body_required, responses=op["responses"],
                response_pointer=f"{op_pointer}/responses", body_limit=op.get("x-body-limit"),
                max_depth=op.get("x-max-depth", spec["info"]["x-max-depth"]), head_allowed=not op.get("x-no-head"),
                raw_body=raw_body))
    return tuple(found)
