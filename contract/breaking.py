"""Breaking changes between two OpenAPI documents: what would break a client built on the old one.

    python -m contract.breaking OLD.json NEW.json [--acknowledged contract/BREAKING.md]
    python -m contract.breaking --git      # CI: the snapshot against its previous version

Exit status 1 when there is a breaking change that is not acknowledged. What counts as breaking:

* a path, an operation or a `components.schemas` entry removed, an `operationId` changed
  (generated clients name their functions and types after them);
* an operation that now requires a key;
* requests: a new required parameter or body field (or one that became required), a query or
  path parameter removed (the API refuses unknown parameters with 400), a body field removed
  from a schema that refuses unknown fields, a type no longer accepted, an enum value removed,
  a value newly restricted to an enum, a media type no longer accepted;
* responses: a field removed or no longer always present, a field that may now have another
  type (`null` included), an enum value removed, a 2xx/3xx status or a media type removed.

Not breaking, on purpose: a removed 4xx/5xx response (errors are problem+json whatever their
status and clients handle them generically), a new enum value in a response (the README tells
clients to expect some), descriptions, examples, bounds and patterns (validation
details, not shapes), response headers. Unions are matched variant by variant (by `$ref` name,
else by type); a variant swapped for another of the same type is not seen.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from contract import history

Schema = dict[str, Any]
Direction = Literal["request", "response"]
METHODS = ("get", "put", "post", "delete", "patch", "options", "head", "trace")
ANY = "any"
ACKNOWLEDGED = Path(__file__).resolve().parent / "BREAKING.md"


@dataclass(frozen=True, order=True)
class Change:
    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


def breaking_changes(old: Schema, new: Schema) -> list[Change]:
    """Every breaking change from `old` to `new`, sorted."""
    return _Differ(old, new).run()


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _ref_name(schema: Schema) -> str | None:
    ref = schema.get("$ref")
    return ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None


class _Document:
    def __init__(self, document: Schema) -> None:
        self.document = document

    def deref(self, node: Schema) -> Schema:
        seen: set[str] = set()
        while isinstance(node.get("$ref"), str) and node["$ref"] not in seen:
            seen.add(node["$ref"])
            target: Any = self.document
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node = target
        return node

    def variants(self, schema: Schema) -> list[Schema]:
        """The members of a union, flattened; a schema that is not a union is its own member."""
        members = self.deref(schema).get("anyOf") or self.deref(schema).get("oneOf")
        if not members:
            return [schema]
        return [variant for member in members for variant in self.variants(member)]

    def types(self, schema: Schema) -> set[str]:
        node = self.deref(schema)
        members = node.get("anyOf") or node.get("oneOf") or node.get("allOf")
        if members:
            return set().union(*(self.types(member) for member in members))
        declared = node.get("type")
        if isinstance(declared, str):
            return {declared}
        if isinstance(declared, list):
            return set(declared)
        if "enum" in node:
            return {_json_type(value) for value in node["enum"]}
        if "const" in node:
            return {_json_type(node["const"])}
        if "properties" in node:
            return {"object"}
        return {"array"} if "items" in node else {ANY}

    def enum(self, schema: Schema) -> list[Any] | None:
        node = self.deref(schema)
        if "enum" in node:
            return list(node["enum"])
        return [node["const"]] if "const" in node else None

    def properties(self, schema: Schema) -> tuple[dict[str, Schema], set[str]]:
        node = self.deref(schema)
        properties = dict(node.get("properties", {}))
        required = set(node.get("required", []))
        for part in node.get("allOf", []):
            more, more_required = self.properties(part)
            properties.update(more)
            required |= more_required
        return properties, required

    def operations(self) -> dict[str, tuple[str, Schema, list[Schema]]]:
        """`METHOD /path` -> (path, operation, path-level parameters)."""
        return {
            f"{method.upper()} {path}": (path, item[method], item.get("parameters", []))
            for path, item in self.document.get("paths", {}).items()
            for method in METHODS
            if method in item
        }

    def parameters(self, operation: Schema, shared: list[Schema]) -> dict[str, Schema]:
        resolved = [self.deref(p) for p in [*shared, *operation.get("parameters", [])]]
        return {f"{p['in']} parameter '{p['name']}'": p for p in resolved}


def _widens(types: set[str], other: set[str]) -> set[str]:
    """The types in `other` that `types` does not already allow."""
    if ANY in types:
        return set()
    extra = other - types
    if "number" in types:
        extra.discard("integer")
    return extra


class _Differ:
    def __init__(self, old: Schema, new: Schema) -> None:
        self.old, self.new = _Document(old), _Document(new)
        self.changes: set[Change] = set()
        self.visited: set[tuple[str, str, Direction]] = set()

    def run(self) -> list[Change]:
        self.operations()
        old_schemas = self.old.document.get("components", {}).get("schemas", {})
        new_schemas = self.new.document.get("components", {}).get("schemas", {})
        for name in old_schemas.keys() - new_schemas.keys():
            self.report(f"components.schemas.{name}", "schema removed")
        return sorted(self.changes)

    def report(self, where: str, what: str) -> None:
        self.changes.add(Change(where, what))

    def operations(self) -> None:
        old_ops, new_ops = self.old.operations(), self.new.operations()
        new_paths = {path for path, _, _ in new_ops.values()}
        for key, (path, old_op, old_shared) in old_ops.items():
            if key not in new_ops:
                self.report(key, "operation removed" if path in new_paths else "path removed")
                continue
            _, new_op, new_shared = new_ops[key]
            old_id, new_id = old_op.get("operationId"), new_op.get("operationId")
            if old_id != new_id:
                self.report(key, f"operationId {old_id!r} -> {new_id!r}")
            if not old_op.get("security") and new_op.get("security"):
                self.report(key, "now requires authentication")
            self.parameters(key, old_op, old_shared, new_op, new_shared)
            self.request_body(key, old_op.get("requestBody"), new_op.get("requestBody"))
            self.responses(key, old_op.get("responses", {}), new_op.get("responses", {}))

    def parameters(
        self, key: str, old_op: Schema, old_shared: list[Schema], new_op: Schema,
        new_shared: list[Schema],
    ) -> None:  # fmt: skip
        old = self.old.parameters(old_op, old_shared)
        new = self.new.parameters(new_op, new_shared)
        for name, parameter in old.items():
            if name not in new:
                if parameter["in"] != "header":  # an unknown header is ignored, not refused
                    self.report(key, f"{name} removed")
                continue
            if new[name].get("required") and not parameter.get("required"):
                self.report(key, f"{name} is now required")
            self.schema(
                parameter.get("schema", {}), new[name].get("schema", {}), f"{key} {name}", "request"
            )
        for name in new.keys() - old.keys():
            if new[name].get("required"):
                self.report(key, f"new required {name}")

    def request_body(self, key: str, old: Schema | None, new: Schema | None) -> None:
        old = self.old.deref(old) if old else {}
        new = self.new.deref(new) if new else {}
        if new.get("required") and not old.get("required"):
            self.report(key, "request body is now required")
        new_content = new.get("content", {})
        for media, old_media in old.get("content", {}).items():
            if media not in new_content:
                self.report(key, f"request body no longer accepts {media}")
            else:
                new_schema = new_content[media].get("schema", {})
                self.schema(
                    old_media.get("schema", {}), new_schema, f"{key} request body", "request"
                )

    def responses(self, key: str, old: Schema, new: Schema) -> None:
        for status, old_response in old.items():
            if status not in new:
                if status.startswith(("2", "3")):
                    self.report(key, f"response {status} removed")
                continue
            old_content = self.old.deref(old_response).get("content", {})
            new_content = self.new.deref(new[status]).get("content", {})
            for media, old_media in old_content.items():
                if media not in new_content:
                    self.report(key, f"response {status} no longer returns {media}")
                else:
                    self.schema(
                        old_media.get("schema", {}), new_content[media].get("schema", {}),
                        f"{key} response {status}", "response",
                    )  # fmt: skip

    def schema(self, old: Schema, new: Schema, where: str, direction: Direction) -> None:
        old_ref, new_ref = _ref_name(old), _ref_name(new)
        if old_ref or new_ref:
            visit = (old_ref or where, new_ref or where, direction)
            if visit in self.visited:
                return
            self.visited.add(visit)
            if old_ref == new_ref:
                where = str(old_ref)  # a shared component is reported once, under its name
        self.types(old, new, where, direction)
        old_variants, new_variants = self.old.variants(old), self.new.variants(new)
        if old_variants == [old] and new_variants == [new]:
            self.leaf(old, new, where, direction)
            return
        for old_variant, new_variant in self.pairs(old_variants, new_variants):
            self.schema(old_variant, new_variant, where, direction)

    def pairs(self, old: list[Schema], new: list[Schema]) -> list[tuple[Schema, Schema]]:
        """Match union members by `$ref` name, else by type; `null` members match nothing."""

        def keyed(document: _Document, variants: list[Schema]) -> dict[str, Schema]:
            return {
                _ref_name(v) or ",".join(sorted(document.types(v))): v
                for v in variants
                if document.types(v) != {"null"}
            }

        old_keyed, new_keyed = keyed(self.old, old), keyed(self.new, new)
        pairs = [(v, new_keyed[k]) for k, v in old_keyed.items() if k in new_keyed]
        old_left = [v for k, v in old_keyed.items() if k not in new_keyed]
        new_left = [v for k, v in new_keyed.items() if k not in old_keyed]
        if len(old_left) == len(new_left) == 1 and self.old.types(old_left[0]) == self.new.types(
            new_left[0]
        ):
            pairs.append((old_left[0], new_left[0]))  # e.g. a component renamed
        return pairs

    def types(self, old: Schema, new: Schema, where: str, direction: Direction) -> None:
        old_types, new_types = self.old.types(old), self.new.types(new)
        if direction == "request":
            lost = _widens(new_types, old_types)
            if lost:
                self.report(where, f"no longer accepts {', '.join(sorted(lost))}")
        else:
            gained = _widens(old_types, new_types)
            if gained:
                self.report(where, f"may now be {', '.join(sorted(gained))}")

    def leaf(self, old: Schema, new: Schema, where: str, direction: Direction) -> None:
        old_enum, new_enum = self.old.enum(old), self.new.enum(new)
        if old_enum is not None and new_enum is not None:
            for value in old_enum:
                if value not in new_enum:
                    self.report(where, f"enum value {json.dumps(value)} removed")
        elif direction == "request" and new_enum is not None:
            self.report(where, f"now restricted to {json.dumps(new_enum)}")
        old_node, new_node = self.old.deref(old), self.new.deref(new)
        if "items" in old_node and "items" in new_node:
            self.schema(old_node["items"], new_node["items"], f"{where}[]", direction)
        old_props, old_required = self.old.properties(old)
        new_props, new_required = self.new.properties(new)
        if direction == "response":
            for name in old_props:
                if name not in new_props:
                    self.report(where, f"property '{name}' removed")
                elif name in old_required and name not in new_required:
                    self.report(where, f"property '{name}' no longer always present")
        else:
            for name in sorted(new_required - old_required):
                state = "is now required" if name in old_props else "added as required"
                self.report(where, f"property '{name}' {state}")
            if new_node.get("additionalProperties") is False:
                for name in old_props.keys() - new_props.keys():
                    self.report(where, f"property '{name}' removed (unknown fields are refused)")
        for name in old_props.keys() & new_props.keys():
            self.schema(old_props[name], new_props[name], f"{where}.{name}", direction)
        old_extra = old_node.get("additionalProperties")
        new_extra = new_node.get("additionalProperties")
        if isinstance(old_extra, dict) and isinstance(new_extra, dict):
            self.schema(old_extra, new_extra, f"{where}.*", direction)


def acknowledged_in(text: str, changes: list[Change]) -> tuple[list[Change], list[Change]]:
    """Split `changes` into (acknowledged, not): a change is acknowledged when its line
    (`WHERE: WHAT`) appears verbatim in `text`."""
    acknowledged = [c for c in changes if str(c) in text]
    return acknowledged, [c for c in changes if str(c) not in text]


def _shown(path: Path) -> str:
    resolved = path.resolve()
    return str(
        resolved.relative_to(history.ROOT) if resolved.is_relative_to(history.ROOT) else path
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", nargs="?", type=Path, help="the OpenAPI document clients use")
    parser.add_argument("new", nargs="?", type=Path, help="the OpenAPI document to check")
    parser.add_argument(
        "--git", action="store_true", help="contract/openapi.json against its previous version"
    )
    parser.add_argument("--acknowledged", type=Path, help="a file listing intended breaks")
    args = parser.parse_args(argv)
    if args.git == bool(args.old and args.new):
        parser.error("give OLD and NEW, or --git")

    if args.git:
        baseline = history.previous_snapshot()
        if baseline is None:
            print("Breaking changes: no earlier snapshot in git to compare with (first version, "
                  "or a shallow clone): skipped")  # fmt: skip
            return 0
        label, old_text = baseline
        new_path, new_label = history.SNAPSHOT, "contract/openapi.json"
        ack_path: Path | None = args.acknowledged or ACKNOWLEDGED
    else:
        label, old_text = str(args.old), args.old.read_text(encoding="utf-8")
        new_path, new_label, ack_path = args.new, str(args.new), args.acknowledged

    changes = breaking_changes(json.loads(old_text), json.loads(new_path.read_text("utf-8")))
    ack_text = ack_path.read_text(encoding="utf-8") if ack_path and ack_path.exists() else ""
    acknowledged, unacknowledged = acknowledged_in(ack_text, changes)
    ack_label = _shown(ack_path) if ack_path else "a file passed with --acknowledged"
    print(f"Breaking changes in {new_label} against {label}: {len(changes)}")
    for change in unacknowledged:
        print(f"  - {change}")
    if acknowledged:
        print(f"Acknowledged in {ack_label}:")
        for change in acknowledged:
            print(f"  - {change}")
    if unacknowledged:
        print(f"{len(unacknowledged)} not acknowledged. If intended, copy each line into "
              f"{ack_label} with the reason and what clients must do.")  # fmt: skip
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
