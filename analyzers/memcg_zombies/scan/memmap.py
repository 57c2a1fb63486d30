"""
Which struct pages a scan reads: PFN ranges of the memmap, and the packed form
a walk of many small ranges hands to the engines.
"""

from array import array
from typing import Iterable, List, Optional, Tuple, Union

from drgn import Program, sizeof

from memcg_zombies.faults import READ_ERRORS
from memcg_zombies.helpers.mm import page_size
from memcg_zombies.layout import layout

__all__ = ("memmap_ranges", "packed_ranges", "pairs", "Ranges")

#: PFN ranges: (lo, hi) pairs, or a :func:`packed_ranges` array.
Ranges = Union[Iterable[Tuple[int, int]], array]


def _sections_with_memmap(prog: Program, max_pfn: int) -> Optional[List[Tuple[int, int]]]:
    # PFN ranges of the sparse sections below max_pfn that have a memmap, from
    # mem_section (one read per root); None when the layout does not say how.
    lay = layout(prog)
    if lay.memmap.mem_section_extreme is None or lay.memmap.section_size_bits is None:
        return None
    shift = lay.memmap.section_size_bits - (page_size(prog).bit_length() - 1)
    ms = prog["mem_section"]
    sec_t = prog.type("struct mem_section")
    size, off = sizeof(sec_t), sec_t.member("section_mem_map").offset
    per_root = page_size(prog) // size if lay.memmap.mem_section_extreme else 1
    nsec = (max_pfn + (1 << shift) - 1) >> shift
    ranges: List[Tuple[int, int]] = []
    for r in range((nsec + per_root - 1) // per_root):
        root = ms[r].value_() if lay.memmap.mem_section_extreme else ms[r].address_of_().value_()
        if not root:
            continue
        n = min(per_root, nsec - r * per_root)
        data = prog.read(root, n * size)
        for i in range(n):
            smm = int.from_bytes(data[i * size + off:i * size + off + 8], "little")
            if not smm & lay.memmap.section_has_mem_map:
                continue
            lo = (r * per_root + i) << shift
            hi = min(lo + (1 << shift), max_pfn)
            if ranges and ranges[-1][1] == lo:
                ranges[-1] = (ranges[-1][0], hi)
            else:
                ranges.append((lo, hi))
    return ranges


def memmap_ranges(prog: Program) -> List[Tuple[int, int]]:
    """
    PFN ranges whose struct pages to read: the sparse sections that have a
    memmap (mem_section, as drgn 0.0.23+'s for_each_valid_page_range reads
    it; 0.0.22 has no such helper), else 0..max_pfn (holes then fail to read,
    each a fault).
    """
    max_pfn = prog["max_pfn"].value_()
    try:
        ranges = _sections_with_memmap(prog, max_pfn)
        if ranges:
            return ranges
    except READ_ERRORS:
        pass
    return [(0, max_pfn)]


def packed_ranges(ranges: Iterable[Tuple[int, int]]) -> array:
    """PFN ranges as one array('Q') of lo, hi pairs: what a walk of many
    small ranges (one slab page each) passes to the engines."""
    return array("Q", (x for r in ranges for x in r))


def pairs(ranges: Ranges) -> Iterable[Tuple[int, int]]:
    """(lo, hi) tuples, from tuples or a :func:`packed_ranges` array."""
    if isinstance(ranges, array):
        return zip(ranges[0::2], ranges[1::2])
    return ranges
