"""What every report shares: reading a team's answers file, and recording a rendering.

A rendered report is evidence: its Markdown and HTML (and, when asked, its PDF) go to the
object store and one ``report.*`` event names them, before the files are written where the
user asked.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from core.identity.actors import needs
from core.kernel import command
from core.kernel.errors import UsageError
from core.kernel.events import now_iso
from core.kernel.kinds import Payload, new_event
from core.kernel.paths import write_output
from core.kernel.workspace import Session, Workspace
from reports.formatting import check_observed, check_threshold, section_name
from reports.render import document_id, render_pdf


class NotPassed(Protocol):
    """What a sentence about a not-passed check reads: a recorded check, or a view's copy."""

    @property
    def verdict(self) -> str: ...  # noqa: D102
    @property
    def section(self) -> str: ...  # noqa: D102
    @property
    def name(self) -> str: ...  # noqa: D102
    @property
    def observed(self) -> Any: ...  # noqa: D102
    @property
    def threshold(self) -> Mapping[str, Any]: ...  # noqa: D102
    @property
    def interval_95(self) -> Sequence[float | None] | None: ...  # noqa: D102
    @property
    def note(self) -> str | None: ...  # noqa: D102


def check_in_words(check: NotPassed) -> str:
    """One not-passed check in words, without its verdict (a screen draws that in colour).

    Section, name, what was observed and the threshold (``at least 30``), never as a data
    structure: the sentence goes into documents people read and file. The figures read as
    the Checks table shows them (:func:`reports.formatting.check_observed`).

    Args:
        check: A check whose verdict is not PASS.

    Returns:
        The sentence.
    """
    shown = check_observed(check.observed, check.name, check.interval_95)
    return (
        f"{section_name(check.section)} check '{check.name}' (observed {shown}; "
        f"threshold {check_threshold(check.threshold, check.name)})"
        + (f": {check.note}" if check.note else "")
    )


def gap_in_words(check: NotPassed) -> str:
    """One not-passed check as a filed report says it, in words: its verdict, then the rest.

    The sentence goes into documents people read and file (see :func:`check_in_words`).

    Args:
        check: A check whose verdict is not PASS.

    Returns:
        The sentence.
    """
    return f"{check.verdict}: {check_in_words(check)}"


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
    pdf: bool = False,
) -> tuple[Path, Path]:
    """Store the renderings, record one event naming them, then write the files.

    With ``pdf`` the HTML is also rendered as a PDF/A (``stem.pdf`` beside the others), its
    digest in the payload's ``pdf`` field; its dates are the event's time, so the PDF is a
    pure function of the report and the event. Returns the Markdown and HTML paths.
    """
    ts = now_iso()
    pdf_bytes = b""
    if pdf:
        pdf_bytes = render_pdf(html, doc_id=document_id(stem, subject, markdown), created=ts)

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
        refs = [md_ref, html_ref]
        if pdf:
            pdf_ref = s.put_blob(pdf_bytes, "application/pdf")
            payload = dataclasses.replace(payload, pdf=pdf_ref.sha256)  # type: ignore[type-var]
            refs.append(pdf_ref)
        event = new_event(actor, payload, [subject], reason, refs)
        s.commit(dataclasses.replace(event, ts=ts))

    command.run(ws, actor, guards=[needs(action="write reports")], prepare=prepare, commit=commit)
    md_path, html_path = out_dir / f"{stem}.md", out_dir / f"{stem}.html"
    write_output(md_path, markdown.encode("utf-8"))
    write_output(html_path, html.encode("utf-8"))
    if pdf:
        write_output(out_dir / f"{stem}.pdf", pdf_bytes)
    return md_path, html_path
