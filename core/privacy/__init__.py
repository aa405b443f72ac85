"""The privacy context: erasure with receipts, legal holds, retention and the access log.

Encryption at rest and pseudonyms live below, in the data context (:mod:`core.data.data_keys`,
:mod:`core.data.encryption`), because every reader of a snapshot goes through them; this
context decides when data must go, proves that it went, and answers who read it.
"""
