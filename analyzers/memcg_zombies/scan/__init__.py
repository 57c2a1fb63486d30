"""
Page scan
---------

One pass over every ``struct page`` of the memmap, counting what each memcg or
objcg owns: :class:`ScanOptions` in, :class:`PageScan` (with how it ran) out.

>>> scan = scan_pages(prog, {memcg.value_()}, ScanOptions(engine="python"))
>>> scan.by_owner[(memcg.value_(), "shmem")]
1024

Everything era-specific (offsets, flag bits, encodings) comes from the page-scan
descriptor ``layout.pages`` (struct mz_layout field for field): the Python engine
reads it through the shared :class:`Decoder`, the C engine is handed it as is. Two
engines give identical results: ``"python"`` (:mod:`.python_engine`) and, when
libhelper is built, ``"c"`` (:mod:`.c_engine`). The modules, from the top down:
this registry; the engines; :mod:`.memmap` (which PFNs), :mod:`.decoder` (what a
struct page says) and :mod:`.model` (options and results).
"""

from typing import Callable, Dict, Iterable, Optional

from drgn import Program

from memcg_zombies.scan.c_engine import extension, scan_c
from memcg_zombies.scan.decoder import Decoder
from memcg_zombies.scan.memmap import Ranges, memmap_ranges, packed_ranges
from memcg_zombies.scan.model import CLASSES, MappingCount, PageScan, ScanOptions
from memcg_zombies.scan.python_engine import scan_python

__all__ = ("CLASSES", "Decoder", "MappingCount", "PageScan", "ScanOptions", "best_engine",
           "engines", "memmap_ranges", "packed_ranges", "scan_pages")

#: engine(prog, owners of interest or None, PFN ranges or None, options) -> PageScan
Engine = Callable[..., PageScan]


def engines() -> Dict[str, Engine]:
    """The engines this installation has, by name: "python", and "c" once built."""
    found: Dict[str, Engine] = {"python": scan_python}
    if extension() is not None:
        found["c"] = scan_c
    return found


def best_engine() -> str:
    """The engine used when none is asked for: "c" when built, else "python"."""
    return "c" if "c" in engines() else "python"


def scan_pages(prog: Program, owners_of_interest: Optional[Iterable[int]] = None,
               options: ScanOptions = ScanOptions(),
               ranges: Optional[Ranges] = None) -> PageScan:
    """
    Walk every struct page and count pages per (owner, class), per mapping
    for ``owners_of_interest`` (memcg and objcg addresses; None means every
    owner), and slab objects per (objcg, cache).

    :param options: the engine (None: :func:`best_engine`) and the C engine's reader.
    :param ranges: PFN ranges to scan instead of :func:`memmap_ranges`:
        (lo, hi) pairs, or a :func:`packed_ranges` array.
    :raises ValueError: no memmap this scan understands (not SPARSEMEM_VMEMMAP,
        or no memcg in struct page), or an engine that is not built
    """
    owners = None if owners_of_interest is None else set(owners_of_interest)
    name = options.engine or best_engine()
    try:
        engine = engines()[name]
    except KeyError:
        raise ValueError(f"unknown page-scan engine {name!r}") from None
    return engine(prog, owners, ranges, options)
