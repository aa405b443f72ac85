"""Data: what goes in.

Owns immutable snapshots of tables, the table scanner and profiles, derived feature snapshots
and their specs, and validation suites with their blocking gates.

May import: ``core.identity``, ``core.kernel``, ``storage``.
"""
