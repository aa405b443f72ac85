"""Lint, format, types and import layers run as part of the suite, so CI cannot skip them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

HEADLESS = [
    "core.audit.admin",
    "core.audit.verification",
    "core.identity.keys",
    "core.identity.actors",
    "core.kernel.projector",
    "storage.ledger",
    "core.kernel.catalog",
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


# What the everyday read commands may not import: the schema toolkit (the catalog reads through
# generated rows), Typer's pydantic coercion for options that were not given, the data and
# model stack, report rendering and the TUI. `status` verifies signatures and asks the keyring
# whether it is usable, so only it may load cryptography and keyring.
NOT_ON_READ_PATHS = (
    "sqlalchemy",
    "sqlmodel",
    "pydantic",
    "pyarrow",
    "numpy",
    "pandas",
    "scipy",
    "sklearn",
    "shap",
    "skops",
    "fairlearn",
    "openlineage",
    "jinja2",
    "textual",
    "markdown_it",
    "pygments",
)


@pytest.mark.parametrize(
    ("argv", "also_forbidden"),
    [
        (["status"], ()),
        (["audit", "log"], ("cryptography", "keyring")),
        (["model", "list"], ("cryptography", "keyring")),
    ],
    ids=["status", "audit-log", "model-list"],
)
def test_everyday_commands_load_no_heavy_library(
    ws: object, ws_path: Path, argv: list[str], also_forbidden: tuple[str, ...]
) -> None:
    forbidden = NOT_ON_READ_PATHS + also_forbidden
    probe = (
        "import sys\n"
        f"sys.argv = ['ledgerml', *{argv!r}]\n"
        "from app.cli import main\n"
        "try:\n    main()\nexcept SystemExit as done:\n    assert not done.code, done.code\n"
        f"print([m for m in {forbidden!r} if m in sys.modules], file=sys.stderr)"
    )
    env = {**os.environ, "LEDGERML_WORKSPACE": str(ws_path), "LEDGERML_ACTOR": "alice"}
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout  # the command did its work
    assert result.stderr.strip().splitlines()[-1] == "[]"
