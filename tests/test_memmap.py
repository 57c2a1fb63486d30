"""The memmap ranges the page scan reads: the sparse sections that have a memmap,
from mem_section (our own walk: drgn 0.0.22 has no helper for it)."""

import pytest

drgn = pytest.importorskip("drgn")
from memcg_zombies import scan  # noqa: E402
from memcg_zombies.layout import layout  # noqa: E402
from memcg_zombies.cli import open_program  # noqa: E402


def _merged(ranges):
    out = []
    for lo, hi in ranges:
        if out and out[-1][1] == lo:
            out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out


def test_memmap_ranges(case):
    prog = open_program(case["vmcores"]["kdump"], case["vmlinux"])
    lay = layout(prog)
    ranges = scan.memmap_ranges(prog)
    max_pfn = prog["max_pfn"].value_()
    assert ranges and all(lo < hi <= max_pfn for lo, hi in ranges)
    assert ranges == sorted(ranges) == _merged(ranges)
    # Found by the section walk, not the 0..max_pfn fallback: whole sections.
    shift = lay.memmap.section_size_bits - 12
    assert all(lo % (1 << shift) == 0 for lo, _ in ranges)
    # The guest's RAM is covered, and every range's struct pages read.
    assert sum(hi - lo for lo, hi in ranges) >= case["mem_mb"] * 256 * 0.95
    for lo, hi in ranges:
        prog.read(lay.memmap.vmemmap + lo * lay.memmap.page_struct_size, lay.memmap.page_struct_size)
        prog.read(lay.memmap.vmemmap + (hi - 1) * lay.memmap.page_struct_size, lay.memmap.page_struct_size)
    try:
        from drgn.helpers.linux.mm import for_each_valid_page_range
    except ImportError:
        return  # drgn 0.0.22: no helper to compare with
    theirs = [(lo, min(hi, max_pfn)) for lo, hi, _ in for_each_valid_page_range(prog)
              if lo < max_pfn]
    assert ranges == _merged(theirs)
