"""The README's "Using it" block runs as written, line by line, in an empty folder.

The block is the one after the README comment naming this file. Each logical line (a line
ending in a backslash continues on the next) runs in one bash process, so a variable set by
one line is seen by the next, through the ledgerml of the Python running the tests, with HOME
pointing at an empty folder. A line must exit 0 unless its comment says ``# exits N``.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MARKER = "<!-- tests/cli/test_readme.py runs this block"
EXITS = re.compile(r"\s#\s*exits (\d+)\b")  # a trailing "# exits N" comment


def section(text: str, title: str) -> str:
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def executed_block(readme: str) -> list[str]:
    """The logical lines of the sh block that follows the marker in "Using it"."""
    using = section(readme, "Using it")
    assert MARKER in using, "the README's Using it section lost its tested block"
    after = using[using.index(MARKER) :]
    fence = after.index("```sh\n") + len("```sh\n")
    body = after[fence : after.index("\n```", fence)]
    lines: list[str] = []
    pending = ""
    for raw in body.splitlines():
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        line = (pending + raw).strip()
        pending = ""
        if line and not line.startswith("#"):
            lines.append(line)
    assert not pending, "the block ends inside a continued line"
    return lines


def expected_exit(line: str) -> int:
    found = EXITS.search(line)
    return int(found.group(1)) if found else 0


def test_the_block_is_found_and_parsed() -> None:
    lines = executed_block((ROOT / "README.md").read_text(encoding="utf-8"))
    assert lines[0].startswith("ledgerml init")
    assert any(
        line.startswith("ledgerml --as dana snapshot add") and "--retention 7y" in line
        for line in lines
    ), "a continued line was not joined"
    assert [expected_exit(line) for line in lines].count(0) == len(lines) - 3
    # The interactive workstation cannot run here: it stays outside the tested block.
    assert not any(line.startswith("ledgerml tui") for line in lines)
    assert "ledgerml tui --bundle" in section(
        (ROOT / "README.md").read_text(encoding="utf-8"), "Using it"
    )


def test_readme_using_it_runs_line_by_line(tmp_path: Path) -> None:
    bin_dir = Path(sys.executable).parent
    assert (bin_dir / "ledgerml").is_file(), f"no ledgerml beside {sys.executable}"
    lines = executed_block((ROOT / "README.md").read_text(encoding="utf-8"))
    work, home = tmp_path / "checkout", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    (work / "sample_data").symlink_to(ROOT / "sample_data", target_is_directory=True)
    codes = tmp_path / "codes"
    script = [f"cd {shlex.quote(str(work))} || exit 99"]
    for index, line in enumerate(lines):
        script += [
            f"printf '\\n$ %s\\n' {shlex.quote(line)}",
            line,
            f'echo "{index} $?" >> {shlex.quote(str(codes))}',
        ]
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(home),
    }
    env.pop("VIRTUAL_ENV", None)
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-c", "\n".join(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    log = done.stdout[-6000:] + "\n--- stderr ---\n" + done.stderr[-6000:]
    got = [int(rc) for _, rc in (row.split() for row in codes.read_text().splitlines())]
    want = [expected_exit(line) for line in lines]
    assert len(got) == len(lines), f"the block stopped after {len(got)} lines:\n{log}"
    wrong = [(line, w, g) for line, w, g in zip(lines, want, got, strict=True) if w != g]
    assert not wrong, (
        "lines with the wrong exit code (line, wanted, got):\n"
        + "\n".join(f"  {line}\n    wanted {w}, got {g}" for line, w, g in wrong)
        + f"\n{log}"
    )
    # What the block promises to leave behind.
    assert (work / ".ledgerml" / "catalog.duckdb").is_file()
    assert (home / "safe" / "checkpoint.json").is_file()
    assert {p.suffix for p in (work / "reports-out").iterdir()} == {
        ".md",
        ".html",
        ".pdf",
    }  # the PDF is the default
    assert (work / "audit" / "verify.py").is_file()
    assert "into reports-out/" in done.stderr
    assert '"eventType": "COMPLETE"' in done.stdout
