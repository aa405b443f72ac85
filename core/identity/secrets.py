"""How a person proves they hold an actor's secret: one mechanism for scripts, one for people.

A secret is a passphrase that unlocks a key (the ``passphrase`` backend) or a PKCS#11 token's
user PIN. Scripts give it in a file named by ``LEDGERML_SECRET_FILE`` (mode 0600, one line);
never on the command line, where other users see it in the process list. People at a terminal
are asked for it, the TUI in a dialog (it installs a :data:`PROMPT`). ``LEDGERML_PKCS11_PIN``
is still read for tokens, for setups made before the secret file existed.

What each mechanism protects against, plainly:

- the OS keyring protects a key from *other OS accounts*; everyone using one account shares
  one unlocked keyring, so on a shared account it separates no one;
- a passphrase stops only those who do not know it (and a secret file is as safe as its
  permissions);
- real separation is one OS account per person (each with their own keyring) or a token
  whose PIN only its holder knows.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable
from pathlib import Path

from core.kernel.errors import IdentityError

SECRET_FILE_ENV = "LEDGERML_SECRET_FILE"

PROMPT: Callable[[str], str | None] | None = None
"""Set by an interactive front door (the TUI) to ask for a secret in its own dialog."""


def secret(what: str) -> str | None:
    """The secret for ``what`` (e.g. "passphrase of key alice-passphrase"), or None if none.

    Raises:
        IdentityError: if the secret file is named but cannot be read.
    """
    named = os.environ.get(SECRET_FILE_ENV)
    if named:
        path = Path(named)
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as err:
            raise IdentityError(
                f"cannot read the secret file {path} ({SECRET_FILE_ENV}): {err}",
                hint="Point it at a readable one-line file, mode 0600.",
            ) from err
        return text.rstrip("\r\n")
    if PROMPT is not None:
        return PROMPT(what)
    if sys.stdin.isatty():
        try:
            return getpass.getpass(f"{what}: ")
        except (EOFError, KeyboardInterrupt):
            return None
    return None


def key_dir() -> Path:
    """Where passphrase-protected private keys are kept: the user's config, not the workspace."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "ledgerml" / "keys"
