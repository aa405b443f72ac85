"""Evidence: what a model was tested for, and how it did.

Owns evaluation suites and their sections (fairness, explanations, robustness, privacy,
baseline) and the signed evidence documents they produce:

- :mod:`~core.evidence.suite` reads a suite and refuses unknown or mistyped settings;
- :mod:`~core.evidence.context` rebuilds the model's recorded held-out split, shared by all
  sections;
- :mod:`~core.evidence.sections` holds one module per section behind one protocol;
- :mod:`~core.evidence.checks` collects the thresholds as checks with severities;
- :mod:`~core.evidence.document` is the typed evidence (records in
  :mod:`~core.evidence.record` that re-serialise to the stored bytes);
- :mod:`~core.evidence.evaluation` is the ``evaluate`` command and the readers
  (``latest_evidence`` typed, ``latest`` as stored JSON).

May import: ``core.modelling``, ``core.data``, ``core.identity``, ``core.kernel``, ``storage``.
"""
