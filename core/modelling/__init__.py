"""Modelling: how a model comes to be.

Owns the training spec and runs, the estimators we can train and explain, the model registry
and its signatures, reproduction of a run, and the captured runtime environment.

May import: ``core.data``, ``core.identity``, ``core.kernel``, ``storage``.
"""
