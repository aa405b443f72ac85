"""Where the workspace is: a light module, so front doors can find it before heavy imports."""

from __future__ import annotations

import os
from pathlib import Path

from core.kernel.errors import UsageError

DEFAULT_DIR = ".ledgerml"


def locate(path: Path | str | None = None) -> Path:
    """The workspace folder: the given path, else ``LEDGERML_WORKSPACE``, else ``./.ledgerml``."""
    if path:
        return Path(path).expanduser().absolute()
    env = os.environ.get("LEDGERML_WORKSPACE")
    return Path(env).expanduser().absolute() if env else Path.cwd() / DEFAULT_DIR


def output_error(path: Path, err: OSError) -> UsageError:
    """A UsageError for a file or folder the user named that cannot be written."""
    reason = err.strerror or type(err).__name__
    if isinstance(err, FileExistsError | NotADirectoryError):
        reason += " (a file is where a folder is needed)"
    elif isinstance(err, IsADirectoryError):
        reason += " (a folder is where a file is needed)"
    return UsageError(
        f"cannot write {path}: {reason}",
        hint="Give a path in a folder you can write to.",
    )


def make_folder(path: Path) -> None:
    """Create a folder the user named (and its parents), or say why it cannot be.

    Raises:
        UsageError: if it cannot be created (a file in the way, no permission, read-only).
    """
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise output_error(path, err) from err


def write_output(path: Path, data: bytes) -> None:
    """Write a file the user named, or say why it cannot be written.

    Raises:
        UsageError: if it cannot be written (a folder there, no permission, no such folder).
    """
    try:
        path.write_bytes(data)
    except OSError as err:
        raise output_error(path, err) from err
