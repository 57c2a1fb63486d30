"""
Helpers shared by the analyzers, one definition each: :mod:`.mm` (PAGE_SIZE,
a memcg's per-node info), :mod:`.memcg` (atomic and refcount reads, the private
id, the hierarchy), :mod:`.lists` (bounded list walks), :mod:`.vfs` (a file's path
from the root mount namespace). They read the era from
:mod:`memcg_zombies.layout` and never decide one themselves.
"""
