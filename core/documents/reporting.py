"""What every report shares: reading a team's answers file, and recording a rendering.

A rendered report is evidence: its Markdown and HTML go to the object store and one
``report.*`` event names them, before the files are written where the user asked.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path

from core.identity.actors import needs
from core.kernel import command
from core.kernel.errors import UsageError
from core.kernel.kinds import Payload, new_event
from core.kernel.paths import write_output
from core.kernel.workspace import Session, Workspace


def read_answers(
    path: Path | None, allowed: Sequence[str], structured: Sequence[str] = ()
) -> dict[str, str]:
    """Answers from a TOML file of ``question = "answer"``.

    Unknown questions and answers that are not text are refused; an empty answer counts as
    unanswered. Keys in ``structured`` are allowed and left out: the caller reads them as
    data (an impact assessment's ``[[thresholds]]``).
    """
    if path is None:
        return {}
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise UsageError(f"cannot read answers file {path}: {err}") from err
    doc = {k: v for k, v in doc.items() if k not in structured}
    unknown = set(doc) - set(allowed)
    if unknown:
        raise UsageError(
            f"{path}: unknown question {sorted(unknown)[0]!r}",
            hint=f"Questions: {', '.join(allowed)}.",
        )
    for key, value in doc.items():
        if not isinstance(value, str):
            raise UsageError(
                f'{path}: {key} must be text (key = "answer"), not {type(value).__name__}',
                hint='Write the answer in quotes; use """…""" for several lines.',
            )
    return {k: v.strip() for k, v in doc.items() if v.strip()}


def record(
    ws: Workspace,
    actor: str,
    *,
    as_payload: Callable[[str, str], Payload],
    subject: str,
    markdown: str,
    html: str,
    out_dir: Path,
    stem: str,
    reason: str,
) -> tuple[Path, Path]:
    """Store both renderings, record one event naming them, then write the two files."""

    def prepare(_: Session) -> None:
        # After the identity guard (an unproven actor makes no folder), and before anything
        # is recorded: a folder we cannot write must stop us.
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise UsageError(f"cannot write reports into {out_dir}: {err}") from err
        if not os.access(out_dir, os.W_OK):
            raise UsageError(
                f"cannot write reports into {out_dir}: permission denied",
                hint="Give a folder you can write to with -o.",
            )

    def commit(s: Session, _: None) -> None:
        md_ref = s.put_blob(markdown.encode(), "text/markdown")
        html_ref = s.put_blob(html.encode(), "text/html")
        payload = as_payload(md_ref.sha256, html_ref.sha256)
        s.commit(new_event(actor, payload, [subject], reason, [md_ref, html_ref]))

    command.run(ws, actor, guards=[needs(action="write reports")], prepare=prepare, commit=commit)
    md_path, html_path = out_dir / f"{stem}.md", out_dir / f"{stem}.html"
    write_output(md_path, markdown.encode("utf-8"))
    write_output(html_path, html.encode("utf-8"))
    return md_path, html_path
