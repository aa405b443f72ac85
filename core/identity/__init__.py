"""Identity: who acts and what vouches for them.

Owns actors and roles, keys and their backends (keyring, PKCS#11, files), signing and
signature checks, attestations, and the OpenSSF model-signing envelope.

May import: ``core.kernel``, ``storage``.
"""
