"""Evidence sections: one module each, behind one protocol, found by :func:`registry`.

A section is a suite table (``[fairness]``), the settings it accepts, and a ``run`` that
judges an :class:`~core.evidence.context.EvaluationContext`, adds its checks and returns its
typed result (a :class:`~core.evidence.record.Record` stored under ``sections.<name>``).
``evaluate`` runs the registered sections in ``order``, each only when the suite has its
table.

Adding a section: write ``core/evidence/sections/<name>.py`` defining ``SECTION`` (an
object satisfying :class:`Section`, usually a :class:`BaseSection` subclass) and its result
record; give it a test, a row per setting in ``docs/formats/evaluation-suite.md``, and a
block in the model card template if it belongs there. Nothing else lists sections.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    from core.evidence.checks import Checks
    from core.evidence.context import EvaluationContext
    from core.evidence.record import Record


class Section(Protocol):
    """One kind of evidence: its suite table, its settings and how it is computed."""

    name: str
    """The suite table and the key of the result under the evidence's ``sections``."""
    label: str
    """What the progress line says while it runs."""
    order: int
    """Where it runs among the sections (and is listed in hints)."""
    keys: frozenset[str]
    """Every setting its table may hold; anything else is refused when the suite is read."""
    result: type[Record]
    """The typed record its ``run`` returns and stored evidence parses into."""

    def validate(self, path: Path, cfg: Mapping[str, Any]) -> None:
        """Refuse settings that are wrong for this section (after the shared type checks)."""

    def precheck(self, ctx: EvaluationContext, cfg: Mapping[str, Any]) -> None:
        """Refuse, before any section runs, what would only fail after minutes of work."""

    def run(self, ctx: EvaluationContext, cfg: Mapping[str, Any], checks: Checks) -> Record:
        """Compute the section's evidence, add its checks, return its result."""


class BaseSection:
    """Defaults for the optional parts of :class:`Section`: no extra checks."""

    name: ClassVar[str]
    label: ClassVar[str]
    order: ClassVar[int]
    keys: ClassVar[frozenset[str]]

    def validate(self, path: Path, cfg: Mapping[str, Any]) -> None:
        """No section-specific settings to check."""

    def precheck(self, ctx: EvaluationContext, cfg: Mapping[str, Any]) -> None:
        """Nothing to refuse up front."""


_REGISTRY: tuple[Section, ...] | None = None


def registry() -> tuple[Section, ...]:
    """Every section, in running order (the modules of this package, imported once)."""
    global _REGISTRY
    if _REGISTRY is None:
        found: list[Section] = []
        for info in pkgutil.iter_modules(__path__):
            module = importlib.import_module(f"{__name__}.{info.name}")
            section = getattr(module, "SECTION", None)
            if section is not None:
                found.append(section)
        _REGISTRY = tuple(sorted(found, key=lambda s: s.order))
    return _REGISTRY


def names() -> tuple[str, ...]:
    """The sections' suite tables, in running order."""
    return tuple(s.name for s in registry())


def by_name(name: str) -> Section:
    """The section of a suite table (``KeyError`` for one no module declares)."""
    for section in registry():
        if section.name == name:
            return section
    raise KeyError(name)
