"""Evidence: what a model was tested for, and how it did.

Owns evaluation suites and their sections (performance, fairness, explanations, robustness,
privacy, baseline) and the signed evidence documents they produce.

May import: ``core.modelling``, ``core.data``, ``core.identity``, ``core.kernel``, ``storage``.
"""
