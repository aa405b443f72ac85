"""A generated corpus of tables unlike German credit, and the plain computations to check them.

:mod:`tests.corpus.generate` writes the tables (nothing large is committed);
:mod:`tests.corpus.reference` recomputes the headline verdicts with pandas and numpy only, so
a test compares what ledgerml recorded with an independent computation.
"""
