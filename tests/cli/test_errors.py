"""No traceback reaches a user: `ledgerml` given bad input, or hitting a bug.

A LedgerError is a message and its exit code (2 input, 3 integrity); anything else is a bug:
one line on stderr naming the command and a crash report (mode 0600, data values scrubbed),
exit 70. With --json the error is the JSON document on stdout on every path.

A real process runs where the process is the point: an injected bug (a failpoint is armed
when the process starts), a closed stdout (exit 141 by SIGPIPE), the TUI without a terminal.
The rest runs the console script's entry point in this process (``run_cli_here``: the same
parsing, guards, exit codes and streams, without an interpreter start each time).
"""

from __future__ import annotations

import json
import os
import pty
import re
import stat
import subprocess
import sys
from pathlib import Path

from core.kernel.workspace import Workspace
from tests.conftest import ROOT, run_cli, run_cli_here

SECRET = "DE89370400440532013000"
DETAIL = f"IBAN {SECRET} of Erika Mustermann"
SAMPLE = ROOT / "sample_data" / "german-credit"


def env_for(ws_path: Path, **extra: str) -> dict[str, str]:
    return {"LEDGERML_WORKSPACE": str(ws_path), "LEDGERML_ACTOR": "alice", **extra}


def fault(ws_path: Path, tmp_path: Path) -> dict[str, str]:
    """A bug in the middle of `actor add`: an exception no layer expects, carrying data."""
    return env_for(
        ws_path,
        LEDGERML_FAILPOINT="raise:projection.before-commit",
        LEDGERML_FAILPOINT_DETAIL=DETAIL,
        XDG_CACHE_HOME=str(tmp_path / "cache"),
    )


def report_path(line: str) -> Path:
    found = re.search(r"details in (\S+);", line)
    assert found, line
    return Path(found.group(1))


def test_a_bug_is_one_line_a_private_scrubbed_report_and_exit_70(
    ws_path: Path, ws: Workspace, tmp_path: Path
) -> None:
    result = run_cli("actor", "add", "carol", "--role", "auditor", env=fault(ws_path, tmp_path))
    assert result.returncode == 70
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("ledgerml actor add: internal error (InjectedError)")
    assert "README: Reporting a crash" in line
    report = report_path(line)
    assert report.parent == ws_path / "crash"
    assert stat.S_IMODE(report.stat().st_mode) == 0o600
    text = report.read_text()
    assert "command:  ledgerml actor add" in text and "--role" in text
    assert 'File "storage/failpoints.py"' in text and "raise InjectedError(" in text
    assert "storage.failpoints.InjectedError: injected fault at projection.before-commit" in text
    for leaked in (SECRET, "Erika", "Mustermann", "carol", str(tmp_path)):
        assert leaked not in text, leaked
    # The bug struck after the commit point: the action is whole, and the workspace verifies.
    again = run_cli_here("audit", "verify", env=env_for(ws_path))
    assert again.returncode == 0, again.stdout + again.stderr
    listed = json.loads(run_cli_here("actor", "list", "--json", env=env_for(ws_path)).stdout)
    assert "carol" in [a["name"] for a in listed]


def test_a_bug_with_json_is_a_json_error_and_with_verbose_the_real_traceback(
    ws_path: Path, ws: Workspace, tmp_path: Path
) -> None:
    result = run_cli(
        "actor", "add", "dora", "--role", "auditor", "--json", env=fault(ws_path, tmp_path)
    )
    assert result.returncode == 70
    error = json.loads(result.stdout)["error"]
    assert error["kind"] == "internal" and "InjectedError" in error["message"]
    [line] = result.stderr.splitlines()
    assert Path(error["report"]) == report_path(line)
    assert SECRET not in result.stdout
    verbose = run_cli(
        "--verbose", "actor", "add", "erin", "--role", "auditor", env=fault(ws_path, tmp_path)
    )
    assert verbose.returncode == 70
    assert "Traceback (most recent call last)" in verbose.stderr and SECRET in verbose.stderr
    assert verbose.stderr.splitlines()[-1].startswith("ledgerml actor add: internal error")


def test_without_a_workspace_the_report_goes_to_the_user_cache(tmp_path: Path) -> None:
    target, cache = tmp_path / "new", tmp_path / "cache"
    env = {**env_for(target), "XDG_CACHE_HOME": str(cache)}
    # The bug strikes while init writes config.toml: there is no workspace yet.
    result = run_cli("init", env={**env, "LEDGERML_FAILPOINT": "raise:blob.partial"})
    assert result.returncode == 70, result.stderr
    report = report_path(result.stderr)
    assert report.parent == cache / "ledgerml" / "crash"
    assert stat.S_IMODE(report.stat().st_mode) == 0o600
    assert stat.S_IMODE(report.parent.stat().st_mode) == 0o700
    assert run_cli_here("init", env=env).returncode == 0  # an interrupted init runs again
    bundle = run_cli_here(
        "bundle",
        "verify",
        str(tmp_path / "nothing.zip"),
        env={"XDG_CACHE_HOME": str(cache)},
    )
    assert bundle.returncode == 2 and "no such file" in bundle.stderr
    assert list(report.parent.iterdir()) == [report]  # a user's error writes no report


def test_errors_are_json_on_every_path(ws_path: Path, ws: Workspace) -> None:
    env = env_for(ws_path)
    cases = [
        (["actor", "show", "ghost", "--json"], 2, "usage", "no actor named 'ghost'"),
        (["--json", "audit", "log", "--limit", "many"], 2, "usage", "--limit"),
        (["audit", "log", "--json", "--limit", "0"], 2, "usage", "--limit"),
        (["--json", "snapshot", "add"], 2, "usage", "Missing argument"),
        (["--json", "snapshot"], 2, "usage", "needs a command"),
        (["--json", "actor", "add", "x", "--role"], 2, "usage", "--role"),
        (["--json", "lineage", "x", "--format", "dot"], 2, "usage", "--json"),
    ]
    for args, code, kind, text in cases:
        result = run_cli_here(*args, env=env)
        assert result.returncode == code, (args, result.stderr)
        error = json.loads(result.stdout)["error"]  # stdout is the one JSON document
        assert error["kind"] == kind and text in error["message"], (args, error)
        assert "Traceback" not in result.stderr


def test_closed_stdout_is_exit_141_without_noise(ws_path: Path, ws: Workspace) -> None:
    for args in (["audit", "log"], ["audit", "log", "--json"]):
        reader, writer = os.pipe()
        os.close(reader)  # nobody will ever read: the first write fails
        try:
            result = subprocess.run(
                [sys.executable, "-m", "app", *args],
                cwd=ROOT,
                env={**os.environ, **env_for(ws_path)},
                stdin=subprocess.DEVNULL,
                stdout=writer,
                stderr=subprocess.PIPE,
                text=True,
                timeout=60,
            )
        finally:
            os.close(writer)
        assert result.returncode == 141, result.stderr
        assert result.stderr == ""


def test_help_names_every_exit_code() -> None:
    helped = run_cli_here("--help")
    assert helped.returncode == 0
    text = " ".join(helped.stdout.split())
    for meaning in ("1 a gate or check said no", "3 integrity failure", "70 a bug in ledgerml"):
        assert meaning in text


def test_init_where_no_folder_can_be_made(tmp_path: Path) -> None:
    result = run_cli_here("init", "--workspace", "/proc/nope", env={"LEDGERML_ACTOR": "alice"})
    assert result.returncode == 2, result.stderr
    assert "cannot create a workspace at /proc/nope" in result.stderr
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    inside = run_cli_here("init", "--workspace", str(blocker / "ws"), env={"LEDGERML_ACTOR": "a"})
    assert inside.returncode == 2 and "Not a directory" in inside.stderr
    assert blocker.read_text() == "not a folder"


def test_a_delimiter_of_several_characters_or_a_wrong_encoding(
    ws_path: Path, ws: Workspace
) -> None:
    args = ["snapshot", "add", str(SAMPLE / "german.data"), "--dataset", "g"]
    for bad in (";;;", "", "\\t"):
        result = run_cli_here(*args, "--delimiter", bad, env=env_for(ws_path))
        assert result.returncode == 2, result.stderr
        assert "--delimiter must be one character" in result.stderr
    quote = run_cli_here(*args, "--quote", "''", env=env_for(ws_path))
    assert quote.returncode == 2 and "--quote must be one character" in quote.stderr
    utf16 = run_cli_here(*args, "--encoding", "utf-16", env=env_for(ws_path))
    assert utf16.returncode == 2 and "it is not utf-16 text" in utf16.stderr
    space = run_cli_here(*args, "--delimiter", " ", env=env_for(ws_path))
    assert space.returncode == 0, space.stderr


def test_since_beyond_any_date(ws_path: Path, ws: Workspace) -> None:
    for since in ("99999999999w", "0001-01-01T00:00+05:00"):
        result = run_cli_here("audit", "log", "--since", since, env=env_for(ws_path))
        assert result.returncode == 2, result.stderr
        assert "reaches back further than any date" in result.stderr
    assert run_cli_here("audit", "log", "--since", "520w", env=env_for(ws_path)).returncode == 0


def corrupt(ws_path: Path, seq: int) -> None:
    """Break the JSON of event ``seq``'s body in place (what a careless hand edit does)."""
    segment = ws_path / "ledger" / "segments" / "00000000.log"
    lines = segment.read_bytes().split(b"\n")
    lines[seq - 1] = lines[seq - 1].replace(b'"actor":', b'"actor":,', 1)
    segment.write_bytes(b"\n".join(lines))


def test_verify_names_an_event_whose_json_is_broken(ws_path: Path, ws: Workspace) -> None:
    newest = ws.ledger.head()[0]
    corrupt(ws_path, newest)  # the newest event: no later event's hash covers it
    result = run_cli_here("audit", "verify", env=env_for(ws_path))
    assert result.returncode == 3, result.stderr
    assert f"INTEGRITY FAILURE (first bad event #{newest})" in result.stdout
    assert f"event #{newest}: its body is not valid JSON" in result.stderr
    report = json.loads(run_cli_here("audit", "verify", "--json", env=env_for(ws_path)).stdout)
    assert report["ok"] is False and report["first_bad_event"] == newest
    signed = run_cli_here("audit", "checkpoint", env=env_for(ws_path))
    assert signed.returncode == 3 and "Traceback" not in signed.stderr


def test_verify_names_a_broken_event_inside_the_chain(ws_path: Path, ws: Workspace) -> None:
    corrupt(ws_path, 1)
    result = run_cli_here("audit", "verify", env=env_for(ws_path))
    assert result.returncode == 3, result.stderr
    assert "INTEGRITY FAILURE (first bad event #1)" in result.stdout
    assert "event #1: its body is not valid JSON" in result.stderr


def run_tui(*args: str, stdout: int) -> subprocess.CompletedProcess[str]:
    """`ledgerml tui` with stdin not a terminal; the timeout only guards against a spin."""
    return subprocess.run(
        [sys.executable, "-m", "app", "tui", *args],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
    )


def test_tui_without_a_terminal_or_bundle_exits_at_once(tmp_path: Path) -> None:
    leader, follower = pty.openpty()  # stdout a terminal, as when it spun: only stdin is not
    try:
        missing = run_tui("--bundle", str(tmp_path / "nosuch.zip"), stdout=follower)
        assert missing.returncode == 2, missing.stderr
        assert "no bundle file at" in missing.stderr
        folder = run_tui("--bundle", str(tmp_path), stdout=follower)
        assert folder.returncode == 2 and "it is a folder" in folder.stderr
        no_tty = run_tui(stdout=follower)
        assert no_tty.returncode == 2 and "needs a terminal" in no_tty.stderr
    finally:
        os.close(leader)
        os.close(follower)
    piped = run_tui(stdout=subprocess.PIPE)
    assert piped.returncode == 2 and piped.stdout == ""


def test_key_export_public_json_and_unwritable_outputs(
    ws_path: Path, ws: Workspace, tmp_path: Path
) -> None:
    env = env_for(ws_path)
    doc = json.loads(run_cli_here("key", "export-public", "organisation", "--json", env=env).stdout)
    assert doc["public_pem"].startswith("-----BEGIN PUBLIC KEY-----") and doc["path"] is None
    keys = json.loads(run_cli_here("key", "list", "--json", env=env).stdout)
    assert doc["key_id"] in [k["key_id"] for k in keys if k["purpose"] == "organisation"]
    pem = tmp_path / "org.pem"
    written = run_cli_here(
        "key", "export-public", "organisation", "-o", str(pem), "--json", env=env
    )
    assert json.loads(written.stdout)["path"] == str(pem)
    assert pem.read_text() == doc["public_pem"]
    signed = sorted((ws_path / "ledger" / "checkpoints").glob("*.json"))
    for args, says in (
        (["key", "export-public", "organisation", "-o", str(tmp_path)], "a folder is where"),
        (["audit", "checkpoint", "--copy-to", str(tmp_path)], "is a folder; give a file name"),
    ):
        result = run_cli_here(*args, env=env)
        assert result.returncode == 2, (args, result.stderr)
        assert str(tmp_path) in result.stderr and says in result.stderr
    # The refused copy signed nothing: checkpoints are files beside the ledger, not events.
    assert sorted((ws_path / "ledger" / "checkpoints").glob("*.json")) == signed


def test_a_huge_limit_and_a_mistyped_spec(ws_path: Path, ws: Workspace, tmp_path: Path) -> None:
    env = env_for(ws_path)
    huge = run_cli_here("audit", "log", "--limit", "99999999999999999999", "--json", env=env)
    assert huge.returncode == 0, huge.stderr
    assert len(json.loads(huge.stdout)) == ws.ledger.head()[0]  # more than all is all
    spec = tmp_path / "spec.toml"
    # The features list (only it: allow_sensitive_features stays) becomes a number.
    text = re.sub(r"\nfeatures = \[[^]]*\]", "\nfeatures = 5", (SAMPLE / "train.toml").read_text())
    assert "features = 5" in text and "allow_sensitive_features = []" in text
    spec.write_text(text)
    train = run_cli_here("train", str(spec), env=env)
    assert train.returncode == 2, train.stderr
    # Messages are text, not Rich markup: "[run]" names the TOML table and stays.
    assert "training spec: [run] features must be a list" in train.stderr
