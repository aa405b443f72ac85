"""``python -m app`` runs the ledgerml CLI."""

from app.cli import main

main()
