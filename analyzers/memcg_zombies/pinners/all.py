"""Imports every visitor module so that each registers itself."""
# Each import below registers its visitors with memcg_zombies.pinners.pinner().
from memcg_zombies.pinners import swap, sockets, writeback, stock, bpf, children  # noqa: F401
from memcg_zombies.pinners import pages, slab, kmem_caches  # noqa: F401
