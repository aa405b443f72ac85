"""Where the workspace is: a light module, so front doors can find it before heavy imports."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_DIR = ".ledgerml"


def locate(path: Path | str | None = None) -> Path:
    """The workspace folder: the given path, else ``LEDGERML_WORKSPACE``, else ``./.ledgerml``."""
    if path:
        return Path(path).expanduser().absolute()
    env = os.environ.get("LEDGERML_WORKSPACE")
    return Path(env).expanduser().absolute() if env else Path.cwd() / DEFAULT_DIR
