"""
The page-scan descriptor in both languages: layout.pages (Python) carries
exactly the fields of struct mz_layout (libhelper/core/layout.h), and the one
conversion, c_descriptor() read by the C extension, sets every field equal.
Fast lane: synthetic programs, no test bed.
"""

import dataclasses
import re
from pathlib import Path

import pytest

drgn = pytest.importorskip("drgn")

from memcg_zombies.layout import layout  # noqa: E402
from memcg_zombies.layout.pages import MZ_NONE, PageLayout, c_descriptor  # noqa: E402
from tests.synthetic.kernels import ERAS, SyntheticKernel  # noqa: E402

HEADER = Path(__file__).resolve().parent.parent / "libhelper" / "core" / "layout.h"


def c_fields():
    """The members of struct mz_layout, in order, parsed from the header."""
    text = HEADER.read_text()
    body = re.search(r"struct mz_layout \{(.*?)\n\};", text, re.S).group(1)
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
    names = []
    for decl in body.split(";"):
        decl = decl.strip()
        if not decl:
            continue
        _, rest = decl.split(None, 1)  # every member is "type a, b, ..."
        names += [n.strip() for n in rest.split(",")]
    return names


def test_layout_pages_fields_are_struct_mz_layout():
    assert [f.name for f in dataclasses.fields(PageLayout)] == c_fields()


def _scan_module():
    return pytest.importorskip("memcg_zombies._scan")


def _check(p: PageLayout) -> None:
    got = _scan_module().layout(c_descriptor(p))
    assert sorted(got) == sorted(c_fields())
    for name in c_fields():
        v = getattr(p, name)
        assert got[name] == (MZ_NONE if v is None else int(v)), name


# Every field a different value (a swapped pair would show), some absent.
DISTINCT = PageLayout(
    psize=64, off_flags=0, off_mapping=24, off_memcg=56, off_comp=8, off_type=48,
    type_shift=0, ref_shift=32, PG_head=1 << 6, PG_dirty=1 << 4, PG_writeback=1 << 3,
    PG_swapbacked=1 << 19, PG_swapcache=1 << 10, PG_slab=1 << 9, top_byte=True,
    type_buddy=0xf0, type_slab=0xf4, type_kmemcg=None, vector_bit=1, kmem_bit=2,
    data_mask=(1 << 64) - 4, vec_mask=(1 << 64) - 8, info_mask=True, fake_heads=False,
    off_cache=40, stride_off=44, objects_bit=272, objects_width=15, ext_size=16,
    needs_objcg_bit=300, in_object_bit=301, off_cache_size=24, codetag=1)


def test_layout_pages_conversion_distinct_values():
    _check(DISTINCT)


def test_layout_pages_conversion_rejects_a_missing_field():
    desc = c_descriptor(DISTINCT)
    del desc["codetag"]
    with pytest.raises(ValueError):
        _scan_module().layout(desc)


@pytest.mark.parametrize("era", ERAS)
def test_layout_pages_conversion_synthetic(era):
    lay = layout(SyntheticKernel(era).prog)
    assert lay.no_page_scan is None
    _check(lay.pages)
