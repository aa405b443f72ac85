"""``ledgerml data, hold, retention``: erase personal data provably, hold it, expire it.

Erasure destroys the data keys of encrypted copies (crypto-shredding) or deletes plaintext
copies, and records a signed receipt; a legal hold blocks it; ``retention run`` erases what
has expired through the same path.
"""

from __future__ import annotations

import typer

data_app = typer.Typer(
    no_args_is_help=True, help="Personal data: erase it (with a receipt), re-link pseudonyms."
)
hold_app = typer.Typer(no_args_is_help=True, help="Legal holds: block erasure and retention.")
retention_app = typer.Typer(
    no_args_is_help=True, help="Retention rules: what expires when; erase what has expired."
)


def register(app: typer.Typer) -> None:
    """Add ``data``, ``hold`` and ``retention`` to the root app."""
    from app.cli import retention  # noqa: F401 - registers the hold and retention commands

    if data_app.registered_commands or data_app.registered_groups:  # none: no empty group
        app.add_typer(data_app, name="data")
    app.add_typer(hold_app, name="hold")
    app.add_typer(retention_app, name="retention")
