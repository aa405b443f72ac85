"""`ledgerml CMD` builds only CMD's section of the command tree; anything unclear gets it all."""

from __future__ import annotations

from typing import Any

import pytest
from typer.main import get_command

from app.cli import SECTIONS, app, build, command_named


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["status"], "status"),
        (["model", "list"], "model"),
        (["--json", "audit", "log"], "audit"),
        (["--workspace", "ws", "--as", "val", "--verbose", "key", "list"], "key"),
        (["-w", "ws", "actor", "list"], "actor"),
        (["--workspace=ws", "-wws", "--as=val", "feature", "build", "v.toml"], "feature"),
        ([], None),
        (["--help"], None),
        (["-h"], None),
        (["--version"], None),
        (["--", "status"], None),
        (["--unknown", "status"], None),
        (["modle", "list"], None),
        (["--workspace"], None),
    ],
)
def test_the_command_is_found_only_when_it_is_plain(argv: list[str], command: str | None) -> None:
    assert command_named(argv) == command


def _shape(command: Any) -> tuple[Any, ...]:
    subs = getattr(command, "commands", {})
    return (
        command.help,
        [(p.name, tuple(p.opts), p.default) for p in command.params],
        {name: _shape(sub) for name, sub in subs.items()},
    )


def test_a_section_builds_exactly_its_commands_and_the_whole_tree_has_them_all() -> None:
    full: Any = get_command(app)
    names = [name for names, *_ in SECTIONS for name in names]
    assert sorted(full.commands) == sorted(names)
    for section_names, *_ in SECTIONS:
        part: Any = get_command(build(section_names[0]))
        assert sorted(part.commands) == sorted(section_names)
        assert _shape(part)[1] == _shape(full)[1]  # the root options
        for name in section_names:
            assert _shape(part.commands[name]) == _shape(full.commands[name])
