"""Evaluation suites (TOML): which sections to run, and the thresholds they must meet.

Every section is optional. Unknown sections and settings, and settings of the wrong type, are
refused when the suite is read, before minutes of SHAP rather than after: a misspelt
severity would otherwise switch a gate off, and a threshold given as text would fail only
deep inside a section. The settings each section accepts are declared by the section
(:mod:`core.evidence.sections`); the format is documented in
``docs/formats/evaluation-suite.md``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.evidence import sections
from core.kernel.errors import UsageError
from core.kernel.formats import refuse_unknown

SUITE_KEYS = frozenset({"name", "seed"})
SECTIONS: tuple[str, ...] = sections.names()
# Every key each table may hold; anything else is refused when the suite is read.
SECTION_KEYS: Mapping[str, frozenset[str]] = {
    "evaluation": SUITE_KEYS,
    **{s.name: s.keys for s in sections.registry()},
}
_WHOLE = {"seed", "bootstrap", "sample", "background", "top_k", "max_crashes"}
_NUMBER_LISTS = {"noise", "flip", "stability_seeds"}


def load_suite(path: Path) -> tuple[dict[str, Any], bytes]:
    """Parse an evaluation suite; return it and its bytes (whose digest the evidence names)."""
    try:
        raw = path.read_bytes()
        doc = tomllib.loads(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise UsageError(f"cannot read evaluation suite {path}: {err}") from err
    refuse_unknown(
        doc,
        SECTION_KEYS,
        message=lambda name: f"{path}: unknown section [{name}]",
        hint=f"Sections: evaluation, {', '.join(SECTIONS)}.",
    )
    check_settings(path, doc)
    return doc, raw


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_value(where: str, key: str, value: Any) -> None:
    """The type rules that follow from a setting's name, the same in every section."""
    if key.endswith("severity") and value not in ("error", "warn"):
        raise UsageError(f'{where} must be "error" or "warn", not {value!r}')
    if key.startswith(("min_", "max_")) and not _number(value):
        raise UsageError(f"{where} must be a number, not {value!r}")
    if key in _WHOLE and (isinstance(value, bool) or not isinstance(value, int)):
        raise UsageError(f"{where} must be a whole number, not {value!r}")
    if key in _NUMBER_LISTS and not (isinstance(value, list) and all(_number(v) for v in value)):
        raise UsageError(f"{where} must be a list of numbers, not {value!r}")
    if key == "name" and not isinstance(value, str):
        raise UsageError(f"{where} must be text, not {value!r}")


def check_settings(path: Path, doc: Mapping[str, Any]) -> None:
    """Refuse unknown or mistyped settings, then what each section refuses itself."""
    for section, cfg in doc.items():
        if not isinstance(cfg, dict):
            raise UsageError(f"{path}: {section} must be a [{section}] section")
        known = SECTION_KEYS[section]

        def no_setting(key: str, section: str = section) -> str:
            return f"{path}: [{section}] has no setting {key!r}"

        refuse_unknown(
            cfg, known, message=no_setting, hint=f"Settings: {', '.join(sorted(known))}."
        )
        for key, value in cfg.items():
            _check_value(f"{path}: [{section}] {key}", key, value)
    for s in sections.registry():
        s.validate(path, doc.get(s.name, {}))
