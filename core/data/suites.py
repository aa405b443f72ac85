"""Validation suite files: parse a TOML suite and refuse anything the format does not allow.

The keys each check type takes come from its declaration (:mod:`core.data.check_types`); the
rules every check shares are here.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.data.check_types import REGISTRY
from core.data.checks import NUMBER_KEYS, SEVERITIES, TYPED_KEYS, refuse
from core.kernel.errors import UsageError
from storage.objects import sha256_hex

SUITE_SECTIONS = {"suite", "checks"}
SUITE_KEYS = {"name"}


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
        UsageError: naming the first malformed check.
    """
    try:
        raw = path.read_bytes()
        doc = tomllib.loads(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise UsageError(f"cannot read suite {path}: {err}") from err
    unknown_sections = sorted(set(doc) - SUITE_SECTIONS)
    if unknown_sections:
        raise UsageError(
            f"suite {path}: unknown section {unknown_sections[0]!r}",
            hint="A suite holds a [suite] table (its name) and [[checks]] tables.",
        )
    header = doc.get("suite", {})
    if not isinstance(header, dict):
        raise UsageError(f"suite {path}: suite must be a [suite] table")
    extra = sorted(set(header) - SUITE_KEYS)
    if extra:
        raise UsageError(
            f"suite {path}: [suite] has no key {extra[0]!r}", hint="[suite] holds only name."
        )
    name = str(header.get("name") or path.stem)
    checks = doc.get("checks")
    if not isinstance(checks, list) or not checks or not all(isinstance(c, dict) for c in checks):
        raise UsageError(
            f"suite {path} has no [[checks]]", hint="Each check is a [[checks]] table with a type."
        )
    seen: set[str] = set()
    for index, check in enumerate(checks, 1):
        where = _check(check, index)
        if check["name"] in seen:
            raise UsageError(f"{where}: duplicate check name {check['name']!r}")
        seen.add(check["name"])
    return Suite(name=name, digest=sha256_hex(raw), raw=raw, checks=checks)


def _check(check: dict[str, Any], index: int) -> str:
    """Check one ``[[checks]]`` table in place, filling in its severity and name.

    Returns how errors name the check (as the file gave it, before its name is filled in).
    """
    kind = check.get("type")
    where = f"check {index} ({check.get('name') or kind})"
    if kind not in REGISTRY:
        raise UsageError(f"{where}: unknown type {kind!r}", hint=f"Types: {', '.join(REGISTRY)}.")
    declared = REGISTRY[kind]
    missing = declared.required - set(check)
    if missing:
        raise UsageError(f"{where}: missing {', '.join(sorted(missing))}")
    unknown = set(check) - declared.keys
    if unknown:
        raise UsageError(
            f"{where}: unknown setting {sorted(unknown)[0]!r}",
            hint=f"A {kind} check takes: {', '.join(sorted(declared.keys))}.",
        )
    for key in NUMBER_KEYS:
        value = check.get(key)
        if key in check and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise refuse(where, f"{key} must be a number, not {value!r}")
    for key, kind_ in TYPED_KEYS:
        if key in check and not isinstance(check[key], kind_):
            raise refuse(where, f"{key} must be a {kind_.__name__}")
    if check.setdefault("severity", "error") not in SEVERITIES:
        raise refuse(where, "severity must be 'error' or 'warn'")
    if declared.refine is not None:
        declared.refine(check, where)
    target = check.get("column") or ",".join(check.get("columns", []))
    check.setdefault("name", f"{kind}:{target}" if target else kind)
    return where
