"""
memcg_zombies: drgn analyzers for dying ("zombie") memory cgroups.

Modules:

- :mod:`memcg_zombies.layout`: era facts, read from the kernel's debug info
- :mod:`memcg_zombies.percpu_ref`: reading ``struct percpu_ref``
- :mod:`memcg_zombies.cgroups`: walking memcgs, their state and path
- :mod:`memcg_zombies.report`: the report model
- :mod:`memcg_zombies.render`: text and JSON output
- :mod:`memcg_zombies.cli`: the ``memcg-zombies`` command
"""

__version__ = "0.1.0"
