"""Validation suite files: parse a TOML suite strictly and refuse anything the format lacks.

The document and each check type are pydantic models (read through
:func:`core.kernel.formats.parse_strict` for the document, and one model per check type built
from its declaration in :mod:`core.data.check_types`), so an unknown key anywhere is an
error naming it and the keys allowed there. A suite-level key such as ``missing_values``
is refused, never ignored: ignoring it would let a suite pass on data it never looked at
the way its author meant. The rules every check shares (severity, name, types of values)
are here; a type's own rules are its ``refine``.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ValidationError, create_model

from core.data.check_types import REGISTRY
from core.data.checks import KEY_TYPES, NUMBER_KEYS, CheckType, refuse
from core.kernel.errors import UsageError
from core.kernel.formats import parse_strict, strict_config
from storage.objects import sha256_hex

SUITE_SECTIONS = {"suite", "checks"}
SUITE_KEYS = {"name"}


class _Header(BaseModel):
    """The ``[suite]`` table."""

    model_config = strict_config()
    name: str | None = None


class _Document(BaseModel):
    """A suite file: an optional ``[suite]`` table and its ``[[checks]]`` (read per type)."""

    model_config = strict_config()
    suite: _Header | None = None
    checks: list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class Suite:
    """A parsed suite and the hash of its exact bytes."""

    name: str
    digest: str
    raw: bytes
    checks: list[dict[str, Any]]


def load_suite(path: Path) -> Suite:
    """Parse and check a suite file.

    Raises:
        UsageError: naming the first unknown key or malformed check.
    """
    try:
        raw = path.read_bytes()
        doc = tomllib.loads(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise UsageError(f"cannot read suite {path}: {err}") from err
    parsed = parse_strict(_Document, doc, where=f"suite {path}")
    name = (parsed.suite.name if parsed.suite else None) or path.stem
    checks = parsed.checks
    if not checks:
        raise UsageError(
            f"suite {path} has no [[checks]]", hint="Each check is a [[checks]] table with a type."
        )
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, check in enumerate(checks, 1):
        where, parsed_check = _check(check, index)
        if parsed_check["name"] in seen:
            raise UsageError(f"{where}: duplicate check name {parsed_check['name']!r}")
        seen.add(parsed_check["name"])
        out.append(parsed_check)
    return Suite(name=name, digest=sha256_hex(raw), raw=raw, checks=out)


@functools.cache
def check_model(kind: str) -> type[BaseModel]:
    """The pydantic model of one check type: exactly the keys its declaration allows."""
    declared: CheckType = REGISTRY[kind]
    fields: dict[str, Any] = {
        "type": (Literal[kind], ...),
        "name": (str | None, None),
        "severity": (Literal["error", "warn"], "error"),
    }
    for key in sorted(declared.required):
        fields[key] = (KEY_TYPES[key], ...)
    for key in sorted(declared.optional):
        fields[key] = (KEY_TYPES[key] | None, None)
    model: type[BaseModel] = create_model(f"{kind}_check", __config__=strict_config(), **fields)
    return model


def _check(check: dict[str, Any], index: int) -> tuple[str, dict[str, Any]]:
    """Read one ``[[checks]]`` table; return how errors name it and the check as parsed.

    The parsed check holds the keys the file gave, its severity and its name (filled in).
    """
    kind = check.get("type")
    where = f"check {index} ({check.get('name') or kind})"
    if not isinstance(kind, str) or kind not in REGISTRY:
        raise UsageError(f"{where}: unknown type {kind!r}", hint=f"Types: {', '.join(REGISTRY)}.")
    declared = REGISTRY[kind]
    try:
        model = check_model(kind).model_validate(check)
    except ValidationError as err:
        raise _refusal(where, kind, declared, check, err) from None
    parsed = model.model_dump(exclude_unset=True)
    parsed.setdefault("severity", "error")
    if declared.refine is not None:
        declared.refine(parsed, where)
    target = parsed.get("column") or ",".join(parsed.get("columns", []))
    parsed.setdefault("name", f"{kind}:{target}" if target else kind)
    return where, parsed


def _refusal(
    where: str, kind: str, declared: CheckType, check: dict[str, Any], err: ValidationError
) -> UsageError:
    """One error a user can act on from pydantic's: unknown, missing or mistyped settings."""
    errors = err.errors()
    unknown = sorted(str(e["loc"][0]) for e in errors if e["type"] == "extra_forbidden")
    if unknown:
        return UsageError(
            f"{where}: unknown setting {unknown[0]!r}",
            hint=f"A {kind} check takes: {', '.join(sorted(declared.keys))}.",
        )
    missing = sorted(str(e["loc"][0]) for e in errors if e["type"] == "missing")
    if missing:
        return UsageError(f"{where}: missing {', '.join(missing)}")
    key = str(errors[0]["loc"][0])
    if key == "severity":
        return refuse(where, "severity must be 'error' or 'warn'")
    if key in NUMBER_KEYS:
        return refuse(where, f"{key} must be a number, not {check.get(key)!r}")
    noun = {"columns": "list of column names", "values": "list of values"}.get(key, "str")
    return refuse(where, f"{key} must be a {noun}, not {check.get(key)!r}")
