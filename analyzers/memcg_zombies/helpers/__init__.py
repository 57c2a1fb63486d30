"""
Small readers several analyzers share (one definition each), below the analyzers
and above drgn: ``mm`` (PAGE_SIZE, a memcg's per-node info).
"""
