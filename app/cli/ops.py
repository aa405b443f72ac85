"""``ledgerml monitor run, slo, incident, playbook`` (operations; being built)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this section's commands to the root app (none yet)."""
