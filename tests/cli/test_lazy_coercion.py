"""Typer's coercion, built lazily (app/cli/lazy_coercion.py), answers as Typer's own does."""

from __future__ import annotations

from typing import Any

import pytest
from typer import _click, _coercion
from typer import core as typer_core
from typer.main import get_command
from typer.testing import CliRunner

from app.cli import app, lazy_coercion


def _params(command: Any) -> list[tuple[Any, Any]]:
    out = [(command, p) for p in command.params if isinstance(p, typer_core._TyperParameter)]
    for sub in getattr(command, "commands", {}).values():
        out += _params(sub)
    return out


PARAMS = _params(get_command(app))


def test_the_installed_typer_builds_coercion_lazily() -> None:
    assert lazy_coercion.install()
    assert getattr(typer_core.build_runtime_param, "deferred", False)
    assert len(PARAMS) > 100  # every option and argument of every command


@pytest.mark.parametrize(("command", "param"), PARAMS, ids=lambda x: getattr(x, "name", "?"))
def test_a_missing_value_is_what_typer_itself_answers(command: Any, param: Any) -> None:
    ctx = _click.Context(command)
    deferred = typer_core.build_runtime_param(param.type_descriptor)
    real = _coercion.build_runtime_param(param.type_descriptor)
    assert deferred.coerce(None, param, ctx) == real.coerce(None, param, ctx)


def test_given_values_go_through_typer_and_its_messages(tmp_path: Any) -> None:
    runner = CliRunner()
    bad = runner.invoke(app, ["--workspace", str(tmp_path), "audit", "log", "--limit", "0"])
    assert bad.exit_code == 2 and "Invalid value for '--limit'" in bad.stderr
    assert "greater than or equal to 1" in bad.stderr  # pydantic's own words
    missing = runner.invoke(app, ["--workspace", str(tmp_path), "audit", "log", "--limit", "2"])
    assert missing.exit_code == 2 and "ledgerml init" in missing.stderr  # 2 was accepted
