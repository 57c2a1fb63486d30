"""
The C page-scan engine
----------------------

libhelper's scan (built by setup.py as ``memcg_zombies._scan``, see
docs/libhelper.md) parses struct pages from the same descriptor (``layout.pages``,
struct mz_layout field for field) as the :class:`Decoder` and returns the same
:class:`PageScan` fields; tests/test_libhelper.py proves both engines
equal on every test-bed vmcore. It reads through drgn's ``prog.read``, or, given
the vmcore's path, through its own libkdumpfile readers, one per thread, in
parallel.
"""

import os
import time
from array import array
from types import ModuleType
from typing import Optional, Set

from drgn import Program

from memcg_zombies.layout import layout
from memcg_zombies.layout.pages import c_descriptor
from memcg_zombies.scan.memmap import Ranges, memmap_ranges
from memcg_zombies.scan.model import MappingCount, PageScan, ScanOptions

__all__ = ("extension", "scan_c")


def extension() -> Optional[ModuleType]:
    """The built extension, or None when the package was built without it."""
    try:
        import memcg_zombies._scan as _scan
    except ImportError:
        return None
    return _scan


def usable_cpus() -> int:
    """The CPUs this process may run on (taskset, cpusets), else all of them."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def scan_c(prog: Program, owners: Optional[Set[int]], ranges: Optional[Ranges],
           options: ScanOptions) -> PageScan:
    """The engine "c"; ``options`` chooses the reader and its threads."""
    _scan = extension()
    if _scan is None:
        raise ValueError("the C page-scan engine is not built")
    if options.reader == "kdump" and options.vmcore is None:
        raise ValueError("the kdump reader needs ScanOptions(vmcore=...)")
    start = time.monotonic()
    lay = layout(prog)
    if lay.no_page_scan is not None:
        raise ValueError(lay.no_page_scan)
    vmcore = None if options.reader == "drgn" else options.vmcore
    nthreads = options.threads or usable_cpus()
    if ranges is None:
        ranges = memmap_ranges(prog)
    elif not isinstance(ranges, (list, tuple, array)):
        ranges = list(ranges)
    raw = _scan.scan(prog, c_descriptor(lay.pages), lay.memmap.vmemmap, ranges,
                     None if owners is None else list(owners),
                     threads=nthreads, vmcore=vmcore)
    stats = raw.pop("stats")
    s = PageScan(**{k: v for k, v in raw.items() if k != "by_mapping"})
    s.by_mapping = {o: {m: MappingCount(*c) for m, c in maps.items()}
                    for o, maps in raw["by_mapping"].items()}
    s.seconds = time.monotonic() - start
    s.engine = "c"
    s.reader = "kdump" if vmcore else "drgn"
    s.threads = nthreads if vmcore else 1
    s.reader_stats = dict(stats)
    return s
