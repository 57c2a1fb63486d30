"""
memcg_zombies: drgn analyzers for dying ("zombie") memory cgroups.

Modules:

- :mod:`memcg_zombies.layout`: era facts, read from the kernel's debug info (frozen
  groups: pages, refs, state, reparent, ...)
- :mod:`memcg_zombies.cpus`: the possible CPUs, read once per program
- :mod:`memcg_zombies.helpers`: PAGE_SIZE and nodeinfo (``mm``), private id and
  hierarchy (``memcg``), bounded, cycle-checked list walks (``lists``), files named
  from the root mount namespace (``vfs``)
- :mod:`memcg_zombies.faults`: the one fault guard (what it catches becomes a Fault)
- :mod:`memcg_zombies.units`: how amounts are written
- :mod:`memcg_zombies.percpu_ref`: reading ``struct percpu_ref`` exactly
- :mod:`memcg_zombies.report`: the typed report model: pins, state, cost (no drgn)
- :mod:`memcg_zombies.cgroups`: walking memcgs, their state and path
- :mod:`memcg_zombies.scan`: the page scan, ``ScanOptions`` in, ``PageScan`` out (pure
  Python, or the C engine ``_scan``)
- :mod:`memcg_zombies.pinners`: what pins a dying memcg, one visitor per referrer
- :mod:`memcg_zombies.pins`: references explained, the one-line verdict
- :mod:`memcg_zombies.state`: refcounts, ids, page counters, memory.stat
- :mod:`memcg_zombies.reparent`: did reparenting happen, one module per mechanism
  (``kmem_caches``, ``objcg``, ``list_lru``, ``lru_folios``, ``deferred_split``)
- :mod:`memcg_zombies.cost`: what a zombie's own structures cost
- :mod:`memcg_zombies.analysis`: all of them, for every memcg
- :mod:`memcg_zombies.render`: text, Markdown and JSON (``schema.json``)
- :mod:`memcg_zombies.selection`: which memcgs ``--cgroup`` selects
- :mod:`memcg_zombies.vmcore`: what a vmcore file is; which release a vmlinux is
- :mod:`memcg_zombies.program`: opening the kernel: a drgn Program, checked
- :mod:`memcg_zombies.cli`: the ``memcg-zombies`` command (``python3 -m memcg_zombies``):
  parses, calls, prints
"""

__version__ = "0.1.0"
