"""Lint, format, types and import layers run as part of the suite, so CI cannot skip them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

HEADLESS = [
    "core.admin",
    "core.audit",
    "core.keys",
    "core.actors",
    "core.projector",
    "storage.ledger",
    "storage.catalog",
    "storage.objects",
    "reports",
]
HEAVY = ("duckdb", "sklearn", "shap", "textual", "pyarrow", "sqlmodel", "cryptography")


def run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize(
    "cmd",
    [
        ("ruff", "check", "."),
        ("ruff", "format", "--check", "."),
        ("mypy",),
        ("lint-imports",),
    ],
    ids=["ruff-check", "ruff-format", "mypy", "import-layers"],
)
def test_tool_is_clean(cmd: tuple[str, ...]) -> None:
    result = run(str(BIN / cmd[0]), *cmd[1:])
    assert result.returncode == 0, result.stdout + result.stderr


def test_headless_packages_never_load_ui_toolkits() -> None:
    probe = (
        "import importlib, sys\n"
        f"for m in {HEADLESS!r}: importlib.import_module(m)\n"
        "print([m for m in ('textual', 'typer', 'click', 'rich') if m in sys.modules])"
    )
    result = run(sys.executable, "-c", probe)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_help_loads_no_heavy_library() -> None:
    probe = (
        "import sys\n"
        "sys.argv = ['ledgerml', '--help']\n"
        "from app.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules], file=sys.stderr)"
    )
    result = run(sys.executable, "-c", probe)
    assert "Usage" in result.stdout
    assert result.stderr.strip().splitlines()[-1] == "[]"
