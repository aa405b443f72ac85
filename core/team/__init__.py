"""A team on several workstations: one shared ledger on a server, a verified replica on each.

``replica`` is the kernel's hook (a workspace attached with ``[remote]`` commits through the
server and pulls before each command); ``pull`` verifies what comes from the server before any
of it is applied; ``remotes`` is what the ``remote add``, ``clone``, ``sync`` and ``status``
commands do; ``notes`` writes and checks the cosigned checkpoints through which workstations
witness each other's view of the log.
"""
