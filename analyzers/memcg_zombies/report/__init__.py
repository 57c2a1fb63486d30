"""
Report model
------------

Typed dataclasses for what the analyzers found; each ``to_dict()`` gives the JSON
report's shape (``schema.json``), and :mod:`memcg_zombies.render` reads only these
attributes. Nothing here needs drgn (``Zombie.memcg(prog)`` imports it when called).

- :mod:`~memcg_zombies.report.document`: the report, its summary, the memcgs and zombies;
- :mod:`~memcg_zombies.report.pins`: what holds a zombie, one class per kind of referrer;
- :mod:`~memcg_zombies.report.memcg`: a zombie's state, reparenting verdicts and cost.
"""

from memcg_zombies.report.document import (SCHEMA, Fault, Group, HeldBy, KernelInfo,
                                           MemcgEntry, Report, ScanStats, Source, Summary,
                                           Zombie, kernel_notes)
from memcg_zombies.report.memcg import (CostPart, FrozenNote, MemcgCost, MemcgState,
                                        PageCounter, Reparenting, Stat)
from memcg_zombies.report.pins import (BpfPin, CacheRefcnt, ChildPin, FileRef, Holder,
                                       KmemCachePin, PagePin, Pin, Process, ReparentablePin,
                                       Reparented, SlabPin,
                                       SocketPin, StockPin, StockSlot, SwapPin, WritebackPin)

__all__ = ("SCHEMA", "Fault", "KernelInfo", "ScanStats", "Source", "MemcgEntry", "Zombie",
           "kernel_notes",
           "HeldBy", "Group", "Summary", "Report", "PageCounter", "Stat", "FrozenNote",
           "MemcgState", "Reparenting", "CostPart", "MemcgCost", "Pin", "ReparentablePin", "Reparented",
           "FileRef", "PagePin", "SlabPin", "KmemCachePin", "CacheRefcnt", "Holder", "Process",
           "SocketPin", "SwapPin", "WritebackPin", "StockSlot", "StockPin", "ChildPin",
           "BpfPin")
