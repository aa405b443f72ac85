"""Crash reports: scrubbed messages, chained tracebacks, private files, the folder chosen."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from app import crashlog


@pytest.mark.parametrize(
    ("message", "scrubbed"),
    [
        ("cannot convert string to float: 'DE89 3704'", "cannot convert string to float: '…'"),
        ("Python int too large to convert to C int", "Python int too large to convert to C int"),
        ("'erika@example.com'", "'…'"),
        ('"delimiter" must be a 1-character string', "'…' must be a … string"),
        ("mail erika@example.com bounced", "mail … bounced"),
        ("balance 1234.56 EUR refused", "balance … EUR refused"),
        ("cannot open /home/erika/loans.csv", "cannot open …"),
        ("limit=5000 exceeded", "… exceeded"),
        ("bad rows:\n   name  age\n0 erika 33", "bad rows: [2 more lines withheld]"),
        ("", ""),
    ],
)
def test_scrub_keeps_the_words_and_withholds_the_values(message: str, scrubbed: str) -> None:
    assert crashlog.scrub(message) == scrubbed


def test_scrub_cuts_a_long_message() -> None:
    assert len(crashlog.scrub("word " * 200)) == crashlog.MAX_MESSAGE + 1


def raise_chained(customer: str = "Erika Mustermann") -> None:
    """Fail the way code handling rows does: the value is data, not in the source."""
    try:
        {}[customer]
    except KeyError as err:
        raise ValueError(f"customer {customer!r} has no IBAN") from err


def test_a_chained_traceback_is_kept_and_scrubbed() -> None:
    with pytest.raises(ValueError) as caught:
        raise_chained()
    text = crashlog.format_scrubbed(caught.value)
    assert text.index("KeyError: '…'") < text.index("direct cause") < text.index("ValueError")
    assert "ValueError: customer '…' has no IBAN" in text
    assert 'File "tests/cli/test_crashlog.py"' in text and "in raise_chained" in text
    assert "{}[customer]" in text  # source lines are code, and are kept
    assert "Mustermann" not in text


def test_the_report_is_private_and_goes_to_the_first_folder_that_takes_it(
    tmp_path: Path,
) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    target = tmp_path / "reports"
    try:
        raise_chained()
    except ValueError as err:
        path = crashlog.write(err, "ledgerml x", ["--pii"], [blocked / "crash", target])
        assert crashlog.write(err, "ledgerml x", [], [blocked / "crash"]) is None
    assert path is not None and path.parent == target
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(target.stat().st_mode) == 0o700
    text = path.read_text()
    assert "command:  ledgerml x" in text and "options:  --pii (names only)" in text
    assert "Mustermann" not in text


def test_the_workspace_folder_comes_first_then_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    ws = tmp_path / "ws"
    ws.mkdir()
    cache = tmp_path / "cache" / "ledgerml" / "crash"
    assert crashlog.folders(ws)[0] == cache  # not a workspace (no config.toml)
    (ws / "config.toml").write_text("")
    assert crashlog.folders(ws)[:2] == [ws / "crash", cache]


def test_option_names_never_carry_values() -> None:
    args = ["snapshot", "add", "f.csv", "--pii=name,iban", "--dataset", "x", "-w", "d", "--", "-z"]
    assert crashlog.option_names(args) == ["--pii", "--dataset", "-w"]
