"""
The struct page decoder both engines share: per-kernel constants for parsing the
words of a struct page (offsets, flag bits, encodings), all taken from the
page-scan descriptor ``layout.pages`` (the C engine's struct mz_layout), and the
rules that give a page its class and owner. The C engine
(libhelper/python/_scanmodule.c) is given the same descriptor
(:func:`memcg_zombies.layout.pages.c_descriptor`).
"""

from memcg_zombies.layout import Layout

__all__ = ("Decoder",)

_U64 = (1 << 64) - 1


class Decoder:
    """Per-kernel constants for parsing struct page words, from the page-scan
    descriptor (layout.pages, the C engine's struct mz_layout)."""

    def __init__(self, lay: Layout) -> None:
        if lay.no_page_scan is not None:
            raise ValueError(lay.no_page_scan)
        p = lay.pages
        self.psize = p.psize
        self.words = p.psize // 8
        self.w_flags = p.off_flags // 8
        self.w_mapping = p.off_mapping // 8
        self.w_memcg = p.off_memcg // 8
        self.w_comp = p.off_comp // 8
        # page_type/_mapcount and _refcount share one little-endian word.
        self.w_type = p.off_type // 8
        self.type_shift = p.type_shift
        self.ref_shift = p.ref_shift
        self.PG_head = p.PG_head
        self.PG_dirty = p.PG_dirty
        self.PG_writeback = p.PG_writeback
        self.PG_swapbacked = p.PG_swapbacked
        self.PG_swapcache = p.PG_swapcache
        self.PG_slab = p.PG_slab
        # The flag bits classify() reads (a cache key: the fewer, the better).
        self.flags_mask = (self.PG_head | self.PG_dirty | self.PG_writeback
                           | self.PG_swapbacked | self.PG_swapcache | self.PG_slab)
        self.top_byte = p.top_byte
        self.types = {name: v for name in ("buddy", "slab", "kmemcg")
                      if (v := p.type_value(name)) is not None}
        # Bits of the type/refcount word that decide a class: the type (top
        # byte, or the PAGE_TYPE_BASE nibble and type bits) and the refcount.
        type_bits = 0xff000000 if self.top_byte else 0xf0000000 | sum(self.types.values())
        self.type_word_mask = (type_bits << self.type_shift) | (0xffffffff << self.ref_shift)
        self.vector_bit = p.vector_bit
        self.kmem_bit = p.kmem_bit
        self.data_mask = p.data_mask
        self.vec_mask = p.vec_mask
        self.info_mask = p.info_mask
        self.fake_heads = p.fake_heads
        self.w_cache = p.off_cache // 8 if p.off_cache is not None else None
        self.stride_off = p.stride_off
        self.objects_bits = (None if p.objects_bit is None or p.objects_width is None
                             else (p.objects_bit, p.objects_width))
        self.ext_size = p.ext_size
        self.needs_objcg_bit = p.needs_objcg_bit
        self.in_object_bit = p.in_object_bit
        self.cache_size_off = p.off_cache_size or 0  # set when in_object_bit is
        self.codetag = p.codetag

    def is_type(self, ptype: int, name: str) -> bool:
        value = self.types.get(name)
        if value is None:
            return False
        if self.top_byte:
            return ptype >> 24 == value
        return ptype & (0xf0000000 | value) == 0xf0000000

    def classify(self, flags: int, tword: int, mapping: int, memcg: int) -> str:
        """Class of a head (or order-0) page."""
        ptype = (tword >> self.type_shift) & 0xffffffff
        if flags & self.PG_slab or self.is_type(ptype, "slab"):
            return "slab"
        if self.is_type(ptype, "buddy"):
            return "free"
        if (memcg & self.kmem_bit and not memcg & self.vector_bit) or self.is_type(ptype, "kmemcg"):
            return "kmem"
        low = mapping & 3
        if low & 1:
            return "anon"  # PAGE_MAPPING_ANON, KSM included
        if flags & self.PG_swapbacked and flags & self.PG_swapcache:
            return "swapcache"
        if mapping and not low:
            return "shmem" if flags & self.PG_swapbacked else "file"
        if (tword >> self.ref_shift) & 0xffffffff == 0:
            return "free"  # refcount 0: free pages not on a buddy list head (pcp, order>0 rest)
        return "other"

    def owner(self, cls: str, memcg: int) -> int:
        if not memcg:
            return 0
        if cls == "slab":
            # An object vector (v5.9+) is no owner; before, slab pages named a memcg.
            return 0 if memcg & self.vector_bit else memcg
        return memcg & self.data_mask

    def tail_head(self, addr: int, info: int) -> int:
        """Head address of a tail page whose compound word is ``info``."""
        if self.info_mask:
            mask = info & ~1
            if ((mask ^ _U64) + 1) & (mask ^ _U64) == 0:  # GENMASK(63, n): a mask
                return addr & mask
        return info - 1
