"""Validate JSON bodies against the schemas of Google discovery documents.

Discovery schemas are not JSON Schema: ``type`` is one of object/array/string/integer/number/
boolean/any, ``$ref`` names another schema of the same document, 64-bit integers are ``string``
with ``format: int64/uint64``, and objects list ``properties`` and/or ``additionalProperties``.
The check is strict: every field in a response must be declared with the declared type.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import googleapiclient

DOCUMENTS = ("gmail.v1", "people.v1", "calendar.v3", "oauth2.v2")
_DOC_DIR = Path(googleapiclient.__file__).parent / "discovery_cache" / "documents"
_INT_STRING = re.compile(r"-?\d+\Z")
_BYTES = re.compile(r"[A-Za-z0-9+/_=-]*\Z")


@dataclass(frozen=True)
class Method:
    doc: str
    method_id: str
    http_method: str
    pattern: re.Pattern[str]
    response_ref: str | None


@cache
def document(name: str) -> dict[str, Any]:
    return dict(json.loads((_DOC_DIR / f"{name}.json").read_text()))


def _path_regex(template: str) -> re.Pattern[str]:
    out = ""
    for piece in re.split(r"(\{\+?[^}]+\})", template):
        if piece.startswith("{+"):
            out += ".+"
        elif piece.startswith("{"):
            out += "[^/]+"
        else:
            out += re.escape(piece)
    return re.compile("/" + out.lstrip("/") + r"\Z")


def _walk(doc_name: str, node: dict[str, Any], out: list[Method]) -> None:
    doc = document(doc_name)
    for method in node.get("methods", {}).values():
        ref = method.get("response", {}).get("$ref")
        templates = {
            doc["servicePath"] + method.get(key, "")
            for key in ("path", "flatPath")
            if method.get(key)
        }
        upload = method.get("mediaUpload", {}).get("protocols", {}).get("simple", {}).get("path")
        if upload:
            templates.add(upload)
        for template in templates:
            out.append(
                Method(doc_name, method["id"], method["httpMethod"], _path_regex(template), ref)
            )
    for child in node.get("resources", {}).values():
        _walk(doc_name, child, out)


@cache
def methods() -> tuple[Method, ...]:
    out: list[Method] = []
    for name in DOCUMENTS:
        _walk(name, document(name), out)
    # Longer (more specific) templates first: /messages/send before /messages/{id}.
    return tuple(sorted(out, key=lambda m: -len(m.pattern.pattern)))


def find_method(http_method: str, path: str) -> Method | None:
    for method in methods():
        if method.http_method == http_method and method.pattern.match(path):
            return method
    return None


def validate(doc_name: str, ref: str, value: Any) -> list[str]:
    """Problems of ``value`` against schema ``ref`` of ``doc_name`` (empty list: conforms)."""
    errors: list[str] = []
    _check(document(doc_name)["schemas"], {"$ref": ref}, value, ref, errors)
    return errors


def _check(
    schemas: dict[str, Any], schema: dict[str, Any], value: Any, where: str, errors: list[str]
) -> None:
    if "$ref" in schema:
        target = schemas.get(schema["$ref"])
        if target is None:
            errors.append(f"{where}: unknown $ref {schema['$ref']}")
            return
        schema = target
    kind = schema.get("type", "any")
    if kind == "any":
        return
    if kind == "object":
        if not isinstance(value, dict):
            errors.append(f"{where}: expected object, got {type(value).__name__}")
            return
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if key in props:
                _check(schemas, props[key], item, f"{where}.{key}", errors)
            elif extra is not None:
                _check(schemas, extra, item, f"{where}[{key}]", errors)
            else:
                errors.append(f"{where}.{key}: field not declared in the discovery document")
        return
    if kind == "array":
        if not isinstance(value, list):
            errors.append(f"{where}: expected array, got {type(value).__name__}")
            return
        for index, item in enumerate(value):
            _check(schemas, schema.get("items", {}), item, f"{where}[{index}]", errors)
        return
    if kind == "string":
        if not isinstance(value, str):
            errors.append(f"{where}: expected string, got {type(value).__name__}")
            return
        fmt = schema.get("format")
        if fmt in ("int64", "uint64") and not _INT_STRING.match(value):
            errors.append(f"{where}: {fmt} string expected, got {value!r}")
        if fmt == "byte" and not _BYTES.match(value):
            errors.append(f"{where}: base64 expected")
        if "enum" in schema and value not in schema["enum"]:
            errors.append(f"{where}: {value!r} not in enum")
        return
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            errors.append(f"{where}: expected integer, got {type(value).__name__}")
        return
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            errors.append(f"{where}: expected number, got {type(value).__name__}")
        return
    if kind == "boolean":
        if not isinstance(value, bool):
            errors.append(f"{where}: expected boolean, got {type(value).__name__}")
        return
    errors.append(f"{where}: unknown discovery type {kind}")
