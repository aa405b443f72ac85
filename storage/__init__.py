"""Persistence primitives: the ledger, the content-addressed object store, the DuckDB catalog.

Nothing in this package knows about the domain (actors, keys, models); it deals in bytes,
lines and rows. ``core`` maps domain records to and from them.
"""
