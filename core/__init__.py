"""The domain: workspaces, actors, keys, signatures and the audit trail.

Front doors (``app.cli`` and ``app.tui``) call the functions of these modules and nothing
else; no module here imports Typer or Textual, prints, or sleeps to wait for a user.
"""
