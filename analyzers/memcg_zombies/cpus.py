"""
Possible CPUs
-------------

Every per-CPU sum (memcg stats, percpu_ref counts, charge stock, per-CPU cost)
walks the possible CPUs, and drgn's ``for_each_possible_cpu`` reads the mask
bit by bit on each call: a tenth of a 100,000-zombie analysis. The mask does
not change while a program is open, so it is read once per program.
"""

from typing import Tuple

from drgn import Program
from drgn.helpers.linux.cpumask import for_each_possible_cpu

from memcg_zombies.layout import per_program

__all__ = ("possible_cpus",)


def possible_cpus(prog: Program) -> Tuple[int, ...]:
    """The possible CPUs of ``prog``. A mask that cannot be read raises
    FaultError here, as drgn's helper does, and is tried again next time."""
    return per_program(prog, "possible_cpus", lambda: tuple(for_each_possible_cpu(prog)))
