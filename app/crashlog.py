"""Crash reports: what an unexpected error leaves behind to be reported, without data values.

A bug in ledgerml must not show a user a traceback, and must not lose what a maintainer needs to
fix it. The front door writes the traceback to a file of its own (mode 0600) and prints one line
naming the file. The file is meant to be sent to someone, and ledgerml handles row-level and
personal data, so it holds only what is code, never what is data:

- every frame as file, line, function and the source line (code, not values);
- every exception's type, and its message *scrubbed* (:func:`scrub`);
- never frame locals, arguments, option values or environment variables.

Folders, first that works: ``crash/`` in the workspace (when the command names an existing
workspace), then ``$XDG_CACHE_HOME/ledgerml/crash`` (``~/.cache/ledgerml/crash``), then the
system's temporary folder.

This module imports nothing beyond the standard library, so it still works when the failure is
a broken dependency.
"""

from __future__ import annotations

import contextlib
import os
import platform
import re
import sys
import sysconfig
import tempfile
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

WORKSPACE_FOLDER = "crash"
MAX_MESSAGE = 200

_QUOTED = re.compile(r"""[bBrRuUfF]*'(?:[^'\\\n]|\\.)*'|[bBrRuUfF]*"(?:[^"\\\n]|\\.)*\"""")
# A token with a digit, a path separator, an @ or an = is a value far more often than a word:
# an amount, an IBAN, a date, a file of the user's, an e-mail address, key=value.
_VALUE_TOKEN = re.compile(r"[^\s'\"]*[\d@/\\=][^\s'\"]*")


def scrub(message: str) -> str:
    """An exception message with what may be data replaced by ``…``.

    Why not the message as it is: messages quote the values that failed ("could not convert
    string to float: 'DE89 3704 0044…'", a KeyError naming a customer), and a crash report
    travels. Why not nothing at all: the rest of the message ("Python int too large to convert
    to C int", "Expecting ',' delimiter") is often what locates the bug. So the first line is
    kept with every quoted literal replaced by ``'…'`` and every token holding a digit, a path
    separator, ``@`` or ``=`` replaced by ``…``; it is cut at 200 characters, and further lines
    (where libraries print tables of values) are only counted. An unquoted bare word can still
    pass (Python, NumPy, pandas and DuckDB quote the values they name, so it is rare); that is
    why the report asks its reader to look at it before sending it.
    """
    lines = message.splitlines() or [""]
    first = _VALUE_TOKEN.sub("…", _QUOTED.sub("'…'", lines[0]))
    if len(first) > MAX_MESSAGE:
        first = first[:MAX_MESSAGE] + "…"
    more = len(lines) - 1
    return first + (f" [{more} more line{'s' if more != 1 else ''} withheld]" if more else "")


def _prefixes() -> list[tuple[str, str]]:
    """Folder prefixes shortened in file names: the user's home folder is not the bug's."""
    paths = sysconfig.get_paths()
    here = str(Path(__file__).resolve().parents[1])
    found = [(here, "")]
    for key, label in (("purelib", "site-packages"), ("platlib", "site-packages")):
        found.append((paths[key], label))
    found.append((paths["stdlib"], "stdlib"))
    return sorted({p for p in found if p[0]}, key=lambda p: -len(p[0]))


def _where(filename: str, prefixes: Sequence[tuple[str, str]]) -> str:
    for prefix, label in prefixes:
        if filename.startswith(prefix + os.sep):
            rest = filename[len(prefix) + 1 :]
            return f"{label}/{rest}" if label else rest
    return filename if filename.startswith("<") else "…/" + os.path.basename(filename)


def _type_name(err: BaseException) -> str:
    kind = type(err)
    if kind.__module__ == "builtins":
        return kind.__qualname__
    return f"{kind.__module__}.{kind.__qualname__}"


def format_scrubbed(err: BaseException) -> str:
    """The traceback of ``err`` and the exceptions chained to it, oldest first, scrubbed."""
    chain: list[tuple[BaseException, str]] = []
    seen: set[int] = set()
    current: BaseException | None = err
    link = ""
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append((current, link))
        if current.__cause__ is not None:
            current, link = current.__cause__, "direct cause"
        elif current.__context__ is not None and not current.__suppress_context__:
            current, link = current.__context__, "context"
        else:
            current = None
    prefixes = _prefixes()
    out: list[str] = []
    for exc, link in reversed(chain):
        out.append("Traceback (most recent call last):")
        for frame in traceback.extract_tb(exc.__traceback__):
            out.append(
                f'  File "{_where(frame.filename, prefixes)}", line {frame.lineno}, in {frame.name}'
            )
            if frame.line:
                out.append(f"    {frame.line.strip()}")
        message = scrub(str(exc))
        out.append(_type_name(exc) + (f": {message}" if message else ""))
        inner = getattr(exc, "exceptions", None)
        if isinstance(exc, BaseExceptionGroup) and inner:
            out.append(f"  (a group of {len(inner)}: {', '.join(_type_name(e) for e in inner)})")
        if link == "direct cause":
            out += ["", "The above exception was the direct cause of the following:", ""]
        elif link == "context":
            out += ["", "During handling of the above exception, another exception occurred:", ""]
    return "\n".join(out) + "\n"


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ledgerml")
    except PackageNotFoundError:
        return "unknown"


def render(err: BaseException, command: str, options: Sequence[str]) -> str:
    """The report's text: what ran, where, and the scrubbed traceback."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    head = [
        "ledgerml crash report",
        "",
        "Exception messages are scrubbed and no values (options, arguments, rows, local",
        "variables) are included. Read it before you send it.",
        "",
        f"command:  {command}",
        f"options:  {' '.join(options) or 'none'} (names only)",
        f"time:     {now}",
        f"ledgerml: {_version()}",
        f"python:   {platform.python_version()} ({sys.implementation.name}) on "
        f"{platform.system()} {platform.machine()}",
        "",
        "",
    ]
    return "\n".join(head) + format_scrubbed(err)


def folders(workspace: Path | None) -> list[Path]:
    """Where a report may go, best first (see the module docstring)."""
    found = []
    if workspace is not None and (workspace / "config.toml").is_file():
        found.append(workspace / WORKSPACE_FOLDER)
    cache = os.environ.get("XDG_CACHE_HOME")
    with contextlib.suppress(RuntimeError):  # no home folder (a service account without HOME)
        found.append(Path(cache or Path.home() / ".cache") / "ledgerml" / "crash")
    found.append(Path(tempfile.gettempdir()))
    return found


def write(
    err: BaseException, command: str, options: Sequence[str], where: Sequence[Path]
) -> Path | None:
    """Write a report readable by its owner only; return its path, or None if no folder took it."""
    text = render(err, command, options).encode("utf-8", errors="replace")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    name = f"ledgerml-crash-{stamp}-{os.getpid()}.txt"
    for folder in where:
        path = folder / name
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            # O_EXCL: never write through a link or into someone else's file; 0600 from the
            # start (not chmod after writing), so the text is never readable by others.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError:
            continue
        try:
            os.fchmod(fd, 0o600)  # a umask may only remove bits; this makes the mode exact
            view = memoryview(text)
            while view:
                view = view[os.write(fd, view) :]
        except OSError:
            os.close(fd)
            path.unlink(missing_ok=True)
            continue
        os.close(fd)
        return path
    return None


def option_names(args: Sequence[str]) -> list[str]:
    """The option names in a command line, without their values (``--delimiter=x`` → name)."""
    names = []
    for arg in args:
        if arg == "--":
            break
        if arg.startswith("-") and len(arg) > 1 and not arg[1:2].isdigit():
            names.append(arg.split("=", 1)[0])
    return names
