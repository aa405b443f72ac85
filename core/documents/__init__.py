"""Documents: what people read.

Owns data sheets, model cards and the shared report plumbing; renders through ``reports``.

May import: ``core.evidence`` and every context below it, ``reports``, ``storage``.
"""
