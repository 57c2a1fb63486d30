"""
What goes into a page scan (:class:`ScanOptions`) and what comes out of it
(:class:`PageScan`, with the scan's own metadata), whichever engine ran it.
"""

from dataclasses import dataclass, field
from typing import Any, Dict, List, Literal, NamedTuple, Optional, Tuple

__all__ = ("CLASSES", "MappingCount", "PageScan", "ScanOptions")

#: Page classes, as counted in :attr:`PageScan.by_owner`.
CLASSES = ("free", "slab", "file", "shmem", "anon", "swapcache", "kmem", "other")


#: Classes whose pages are also counted per page->mapping (libhelper/core/scan.c
#: MZ_BY_MAPPING, checked equal by tests/test_libhelper.py): files name the pin, an
#: anon_vma the processes that map the pages (helpers/rmap.py).
BY_MAPPING = frozenset(("file", "shmem", "anon"))


@dataclass(frozen=True)
class ScanOptions:
    """
    How to scan, given by whoever starts the analysis (the CLI, or a drgn session)
    and passed down explicitly: ``analyze(prog, scan=ScanOptions(...))``.

    The engines never guess the dump's path: without ``vmcore`` the C engine reads
    through drgn's ``prog.read``. A drgn session that wants libhelper's own readers
    passes ``vmcore=memcg_zombies.vmcore.open_vmcore_file()``.
    """

    #: "python", "c", or None: the best engine built (:func:`~memcg_zombies.scan.best_engine`).
    engine: Optional[str] = None
    #: C engine: "auto" (libkdumpfile when ``vmcore`` is given, else drgn), "drgn"
    #: (the Program's reads) or "kdump" (libhelper's libkdumpfile readers; needs ``vmcore``).
    reader: Literal["auto", "drgn", "kdump"] = "auto"
    #: C engine with the kdump reader: independent readers in parallel (None: one per
    #: usable CPU).
    threads: Optional[int] = None
    #: The vmcore file the Program reads (kdump-compressed or ELF), for the kdump reader.
    vmcore: Optional[str] = None


class MappingCount(NamedTuple):
    """Pages of one ``address_space`` charged to one owner."""

    pages: int
    dirty: int
    writeback: int
    #: Folios (heads): what holds css references on v5.9..v7.0.
    folios: int


@dataclass
class PageScan:
    """What a scan found, and how it ran. Addresses are plain ints; owner 0 means
    uncharged."""

    #: (owner, class) -> pages. The owner is what the head page's memcg_data
    #: names with its flag bits masked: a ``struct mem_cgroup *`` or, for kmem
    #: pages since v5.14 and every folio since v7.1, a ``struct obj_cgroup *``.
    by_owner: Dict[Tuple[int, str], int] = field(default_factory=dict)
    #: (owner, class) -> folios (head pages only).
    folios_by_owner: Dict[Tuple[int, str], int] = field(default_factory=dict)
    #: owner -> page->mapping -> counts, for owners of interest and the classes in
    #: BY_MAPPING: an address_space (file, shmem) or an anon_vma with its low bit set.
    by_mapping: Dict[int, Dict[int, MappingCount]] = field(default_factory=dict)
    #: mapping -> class ("file", "shmem" or "anon") for the mappings above.
    mapping_class: Dict[int, str] = field(default_factory=dict)
    #: (objcg, kmem_cache) -> objects charged, from slab object vectors.
    slab_objects: Dict[Tuple[int, int], int] = field(default_factory=dict)
    #: Slabs whose object vector was read.
    slabs_with_vector: int = 0
    #: (where, error, address) for reads that failed outside the memmap
    #: (object vectors, head pages of tails in another chunk).
    faults: List[Tuple[str, str, Optional[int]]] = field(default_factory=list)
    #: Memmap ranges that could not be read: (start pfn, end pfn, error).
    read_errors: List[Tuple[int, int, str]] = field(default_factory=list)
    # -- how the scan ran ------------------------------------------------------
    pages_scanned: int = 0
    seconds: float = 0.0
    engine: str = "python"
    #: How memory was read: "drgn" (the Program) or "kdump" (libhelper's own
    #: libkdumpfile readers, one per thread).
    reader: str = "drgn"
    threads: int = 1
    #: The libkdumpfile readers' counters ("reads", "bytes_read", "open_seconds",
    #: "scan_seconds"); empty for the Python engine.
    reader_stats: Dict[str, Any] = field(default_factory=dict)

    def pages_of(self, owner: int) -> Dict[str, int]:
        """class -> pages for one owner."""
        return {cls: n for (o, cls), n in self.by_owner.items() if o == owner and n}

    def unreadable_pages(self) -> int:
        return sum(end - start for start, end, _ in self.read_errors)

    def metadata(self) -> Dict[str, Any]:
        """How the scan ran, as the report's ``source.scan`` holds it."""
        return {"engine": self.engine, "reader": self.reader, "threads": self.threads,
                "pages": self.pages_scanned, "seconds": round(self.seconds, 3)}
