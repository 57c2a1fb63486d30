"""
Page scan
---------

One pass over every ``struct page`` of the memmap, counting what each memcg or
objcg owns. Python's drgn objects cost several microseconds each, so the memmap
is read in large chunks with :meth:`drgn.Program.read` and parsed as columns of
64-bit words (``memoryview.cast``). Order-0 pages are counted in bulk per
distinct combination of the bits that decide their class and owner
(``collections.Counter`` over zipped columns, all in C); only compound pages
and slabs with an object vector are looked at one by one.

Everything era-specific (offsets, flag bits, encodings) comes from
:class:`memcg_zombies.layout.Layout`. What cannot be read (a hole in the
memmap, an "Excluded page" of a filtered dump) is recorded and skipped.

>>> scan = scan_pages(prog, {memcg.value_()})
>>> scan.by_owner[(memcg.value_(), "shmem")]
1024

Engines: ``"python"`` is this module; a C engine must give identical
:class:`PageScan` results and registers itself in :data:`ENGINES`.
"""

import time
from array import array
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import compress, repeat
from operator import and_, not_, or_
from typing import (Any, Callable, Dict, Iterable, List, NamedTuple, Optional, Protocol, Set,
                    Tuple, TypedDict, cast)

from drgn import FaultError, Program, sizeof

from memcg_zombies.helpers.mm import page_size
from memcg_zombies.layout import Layout, layout
from memcg_zombies.layout.pages import c_descriptor

__all__ = ("PageScan", "MappingCount", "CLASSES", "ENGINES", "scan_pages", "memmap_ranges")

#: Page classes, as counted in :attr:`PageScan.by_owner`.
CLASSES = ("free", "slab", "file", "shmem", "anon", "swapcache", "kmem", "other")

#: Bytes of memmap read at once (16384 struct pages of 64 bytes).
CHUNK_BYTES = 1 << 20
#: After a failed chunk, retry in pieces this small before giving up on them.
_RETRY_BYTES = (1 << 16, 1 << 12)

_U64 = (1 << 64) - 1


class MappingCount(NamedTuple):
    """Pages of one ``address_space`` charged to one owner."""

    pages: int
    dirty: int
    writeback: int
    #: Folios (heads): what holds css references on v5.9..v7.0.
    folios: int


@dataclass
class PageScan:
    """What a scan found. Addresses are plain ints; owner 0 means uncharged."""

    #: (owner, class) -> pages. The owner is what the head page's memcg_data
    #: names with its flag bits masked: a ``struct mem_cgroup *`` or, for kmem
    #: pages since v5.14 and every folio since v7.1, a ``struct obj_cgroup *``.
    by_owner: Dict[Tuple[int, str], int] = field(default_factory=dict)
    #: (owner, class) -> folios (head pages only).
    folios_by_owner: Dict[Tuple[int, str], int] = field(default_factory=dict)
    #: owner -> address_space -> counts, for owners of interest, file and shmem pages.
    by_mapping: Dict[int, Dict[int, MappingCount]] = field(default_factory=dict)
    #: address_space -> class ("file" or "shmem") for the mappings above.
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
    pages_scanned: int = 0
    seconds: float = 0.0
    engine: str = "python"
    #: How memory was read: "drgn" (the Program) or "kdump" (libhelper's own
    #: libkdumpfile readers, one per thread).
    reader: str = "drgn"
    threads: int = 1

    def pages_of(self, owner: int) -> Dict[str, int]:
        """class -> pages for one owner."""
        return {cls: n for (o, cls), n in self.by_owner.items() if o == owner and n}

    def unreadable_pages(self) -> int:
        return sum(end - start for start, end, _ in self.read_errors)


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
    except (LookupError, FaultError, ValueError, AttributeError, TypeError):
        pass
    return [(0, max_pfn)]


class _Decoder:
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


class _Scanner:
    def __init__(self, prog: Program, owners: Optional[Set[int]]) -> None:
        self.prog = prog
        self.d = _Decoder(layout(prog))
        base = layout(prog).memmap.vmemmap
        assert base is not None  # _Decoder() refuses a Layout without a vmemmap
        self.base = base
        self.owners = owners
        self.scan = PageScan()
        self.by_owner: Counter = Counter()
        self.folios: Counter = Counter()
        self.by_mapping: Dict[int, Dict[int, List[int]]] = defaultdict(dict)
        self.slab_objects: Counter = Counter()
        self.slow_class: Dict[Tuple[int, int, int, int], str] = {}
        self.head_cache: Dict[int, Optional[Tuple[int, int, int, int]]] = {}

    # -- reading -------------------------------------------------------------
    def run(self, ranges: Iterable[Tuple[int, int]]) -> PageScan:
        start = time.monotonic()
        psize = self.d.psize
        per_chunk = CHUNK_BYTES // psize
        for lo, hi in ranges:
            for pfn in range(lo, hi, per_chunk):
                self._read_range(pfn, min(hi, pfn + per_chunk), 0)
        s = self.scan
        s.by_owner = {k: v for k, v in self.by_owner.items() if v}
        s.folios_by_owner = {k: v for k, v in self.folios.items() if v}
        s.by_mapping = {o: {m: MappingCount(*c) for m, c in maps.items()}
                        for o, maps in self.by_mapping.items()}
        s.slab_objects = dict(self.slab_objects)
        s.seconds = time.monotonic() - start
        return s

    def _read_range(self, lo: int, hi: int, level: int) -> None:
        psize = self.d.psize
        try:
            buf = self.prog.read(self.base + lo * psize, (hi - lo) * psize)
        except FaultError as e:
            if level < len(_RETRY_BYTES):
                step = max(1, _RETRY_BYTES[level] // psize)
                for pfn in range(lo, hi, step):
                    self._read_range(pfn, min(hi, pfn + step), level + 1)
            else:
                self._read_error(lo, hi, e)
            return
        self._chunk(buf, lo, hi - lo)
        self.scan.pages_scanned += hi - lo

    def _read_error(self, lo: int, hi: int, e: Exception) -> None:
        errors = self.scan.read_errors
        msg = str(e)
        if errors and errors[-1][1] == lo and errors[-1][2] == msg:
            errors[-1] = (errors[-1][0], hi, msg)  # merge adjacent failures
        else:
            errors.append((lo, hi, msg))

    # -- parsing -------------------------------------------------------------
    def _chunk(self, buf: bytes, pfn0: int, n: int) -> None:
        d = self.d
        s = d.words
        W = memoryview(buf).cast("Q")
        memcg = W[d.w_memcg::s].tolist()
        comp = W[d.w_comp::s].tolist()
        flags = W[d.w_flags::s].tolist()
        tword = W[d.w_type::s].tolist()
        mapping = W[d.w_mapping::s].tolist()
        # Compound pages (a head, HVO fake heads included, or a tail) and slabs
        # with an object vector go one by one; order-0 pages are counted in
        # bulk, per distinct combination of the bits that decide their class.
        special = list(map(or_, map(or_, map(and_, comp, repeat(1)),
                                    map(and_, flags, repeat(d.PG_head))),
                           map(and_, memcg, repeat(d.vector_bit))))
        fields = zip(map(and_, flags, repeat(d.flags_mask)),
                     map(and_, tword, repeat(d.type_word_mask)), mapping, memcg)
        single = Counter(compress(fields, map(not_, special)))
        for key, count in single.items():
            self._count_single(key, count)
        slow = list(compress(range(n), special))
        if slow:
            self._slow(W, pfn0, n, slow, memcg, comp, flags, tword, mapping)

    def _count_single(self, key: Tuple[int, int, int, int], count: int) -> None:
        d = self.d
        f, t, mapping, memcg = key
        ckey = (f, t, (mapping & 3) | (4 if mapping else 0), memcg & (d.kmem_bit | d.vector_bit))
        cls = self.slow_class.get(ckey)
        if cls is None:
            cls = self.slow_class[ckey] = d.classify(*ckey)
        owner = d.owner(cls, memcg)
        self.by_owner[(owner, cls)] += count
        self.folios[(owner, cls)] += count
        if (cls == "file" or cls == "shmem") and owner and (
                self.owners is None or owner in self.owners):
            counts = self.by_mapping[owner].get(mapping)
            if counts is None:
                counts = self.by_mapping[owner][mapping] = [0, 0, 0, 0]
                self.scan.mapping_class[mapping] = cls
            counts[0] += count
            counts[3] += count
            if f & d.PG_dirty:
                counts[1] += count
            if f & d.PG_writeback:
                counts[2] += count

    def _slow(self, W, pfn0, n, slow, memcg, comp, flags, tword, mapping) -> None:
        d = self.d
        psize = d.psize
        chunk_addr = self.base + pfn0 * psize
        # classify() reads only these bits: cache its answer per combination.
        fmask, tmask = d.flags_mask, d.type_word_mask
        mbits = d.kmem_bit | d.vector_bit
        classes = self.slow_class
        for i in slow:
            addr = chunk_addr + i * psize
            info = comp[i]
            tail = info & 1
            if tail:
                head = d.tail_head(addr, info)
            elif (d.fake_heads and flags[i] & d.PG_head and i + 1 < n and comp[i + 1] & 1
                  and comp[i + 1] - 1 != addr):
                # HVO fake head (v5.18-v7.0): really a tail of page[1]'s head.
                head, tail = comp[i + 1] - 1, 1
            else:
                head = addr
            if head == addr:
                hf, hm, ht, hmap = flags[i], memcg[i], tword[i], mapping[i]
            else:
                j, rem = divmod(head - chunk_addr, psize)
                if rem == 0 and 0 <= j < n:
                    hf, hm, ht, hmap = flags[j], memcg[j], tword[j], mapping[j]
                else:
                    fields = self._head_fields(head)
                    if fields is None:
                        self.by_owner[(0, "other")] += 1
                        continue
                    hf, hm, ht, hmap = fields
            key = (hf & fmask, ht & tmask, (hmap & 3) | (4 if hmap else 0), hm & mbits)
            cls = classes.get(key)
            if cls is None:
                cls = classes[key] = d.classify(*key)
            owner = d.owner(cls, hm)
            self.by_owner[(owner, cls)] += 1
            if not tail:
                self.folios[(owner, cls)] += 1
                if cls == "slab" and hm & d.vector_bit and hm & d.vec_mask:
                    self._slab_vector(W, i, addr, hm & d.vec_mask)
            if (cls == "file" or cls == "shmem") and owner and (
                    self.owners is None or owner in self.owners):
                counts = self.by_mapping[owner].get(hmap)
                if counts is None:
                    counts = self.by_mapping[owner][hmap] = [0, 0, 0, 0]
                    self.scan.mapping_class[hmap] = cls
                counts[0] += 1
                if hf & d.PG_dirty:
                    counts[1] += 1
                if hf & d.PG_writeback:
                    counts[2] += 1
                if not tail:
                    counts[3] += 1

    def _head_fields(self, head: int) -> Optional[Tuple[int, int, int, int]]:
        # A tail whose head lies in another chunk (or another range).
        if head in self.head_cache:
            return self.head_cache[head]
        d = self.d
        try:
            W = memoryview(self.prog.read(head, d.psize)).cast("Q")
            fields = (W[d.w_flags], W[d.w_memcg], W[d.w_type], W[d.w_mapping])
        except FaultError as e:
            self.scan.faults.append(("compound head", str(e), head))
            fields = None
        if len(self.head_cache) > 4096:
            self.head_cache.clear()
        self.head_cache[head] = fields
        return fields

    @staticmethod
    def _bit(W, base: int, bit: Optional[int]) -> int:
        return 0 if bit is None else (W[base + bit // 64] >> (bit % 64)) & 1

    def _slab_vector(self, W, i: int, addr: int, vec: int) -> None:
        # Count objects per (objcg, cache): slab->objects entries of the
        # vector, each a struct slabobj_ext (objcg first) or objcg pointer.
        d = self.d
        base = i * d.words
        cache = W[base + d.w_cache] if d.w_cache is not None else 0
        nobj = 0
        if d.objects_bits is not None:
            bit, width = d.objects_bits
            nobj = (W[base + bit // 64] >> (bit % 64)) & ((1 << width) - 1)
        stride = d.ext_size
        if d.stride_off is not None:
            # v7.0-v7.2: slab->stride, sizeof(slabobj_ext) or s->size (in-object).
            word = W[base + d.stride_off // 8]
            stride = (word >> ((d.stride_off % 8) * 8)) & 0xffffffff or d.ext_size
        if d.needs_objcg_bit is not None:
            # v7.3+: no objcg element unless the slab needs one; s->size apart
            # inside the objects, else objcg + codetag elements.
            if not self._bit(W, base, d.needs_objcg_bit):
                return
            if self._bit(W, base, d.in_object_bit):
                try:
                    stride = self.prog.read_u32(cache + d.cache_size_off)
                except FaultError as e:
                    self.scan.faults.append((f"kmem_cache of slab {addr:#x}", str(e), cache))
                    return
            else:
                stride = (1 + d.codetag) * d.ext_size
        if not nobj:
            return
        try:
            data = self.prog.read(vec, nobj * stride)
        except FaultError as e:
            self.scan.faults.append((f"slab object vector of slab {addr:#x}", str(e), vec))
            return
        self.scan.slabs_with_vector += 1
        if stride % 8:
            return
        objcgs = memoryview(data).cast("Q")[::stride // 8]
        for objcg in objcgs.tolist():
            if objcg:
                self.slab_objects[(objcg, cache)] += 1


def packed_ranges(ranges: Iterable[Tuple[int, int]]) -> array:
    """PFN ranges as one array('Q') of lo, hi pairs: what a walk of many
    small ranges (one slab page each) passes to the engines."""
    return array("Q", (x for r in ranges for x in r))


def _pairs(ranges: Iterable) -> Iterable[Tuple[int, int]]:
    # (lo, hi) tuples, or a packed_ranges() array.
    if isinstance(ranges, array):
        return zip(ranges[0::2], ranges[1::2])
    return ranges


def _scan_python(prog: Program, owners: Optional[Set[int]],
                 ranges: Optional[Iterable[Tuple[int, int]]] = None) -> PageScan:
    scanner = _Scanner(prog, owners)
    return scanner.run(memmap_ranges(prog) if ranges is None else _pairs(ranges))


#: name -> engine(prog, owners_of_interest, ranges) -> PageScan
ENGINES: Dict[str, Callable[..., PageScan]] = {"python": _scan_python}


def scan_pages(prog: Program, owners_of_interest: Optional[Iterable[int]] = None,
               engine: str = "python",
               ranges: Optional[Iterable[Tuple[int, int]]] = None) -> PageScan:
    """
    Walk every struct page and count pages per (owner, class), per mapping
    for ``owners_of_interest`` (memcg and objcg addresses; None means every
    owner), and slab objects per (objcg, cache).

    :param engine: "python", or another name registered in :data:`ENGINES`.
    :param ranges: PFN ranges to scan instead of :func:`memmap_ranges`:
        (lo, hi) pairs, or a :func:`packed_ranges` array.
    :raises ValueError: no memmap this scan understands (not SPARSEMEM_VMEMMAP,
        or no memcg in struct page)
    """
    owners = None if owners_of_interest is None else set(owners_of_interest)
    try:
        fn = ENGINES[engine]
    except KeyError:
        raise ValueError(f"unknown page-scan engine {engine!r}") from None
    scan = fn(prog, owners, ranges)
    scan.engine = engine
    return scan


# -- The C engine (libhelper/, built by setup.py as memcg_zombies._scan) ------
# It parses from the same descriptor (layout.pages) and returns the same
# PageScan fields; tests/test_libhelper.py proves both engines equal on every
# test-bed vmcore.

class COptions(TypedDict):
    """The keys of :data:`C_OPTIONS`."""

    threads: Optional[int]
    reader: str
    vmcore: Optional[str]


#: C engine options: "threads" (None: one per usable CPU) for the libkdumpfile reader;
#: "reader": "auto" (libkdumpfile for a vmcore file, kdump-compressed or ELF; drgn's
#: prog.read for the live kernel), "drgn" or "kdump"; "vmcore": the dump's path
#: (None: the vmcore file the process has open, if exactly one).
C_OPTIONS: COptions = {"threads": None, "reader": "auto", "vmcore": None}


class CEngine(Protocol):
    """The C engine's scan function, as registered in :data:`ENGINES`."""

    #: The libkdumpfile readers' counters of the last scan ("reads", "bytes_read",
    #: "open_seconds", "scan_seconds") with its "reader" and "threads".
    last_stats: Dict[str, Any]

    def __call__(self, prog: Program, owners: Optional[Set[int]],
                 ranges: Optional[Iterable[Tuple[int, int]]] = None, *,
                 reader: Optional[str] = None, threads: Optional[int] = None,
                 vmcore: Optional[str] = None) -> PageScan: ...


#: The engine used when none is asked for: "c" once the extension is built.
DEFAULT_ENGINE = "python"


def _is_vmcore(head: bytes) -> bool:
    # kdump-compressed, or an ELF64 core (e_type ET_CORE, little-endian).
    return head[:8] == b"KDUMP   " or (head[:5] == b"\x7fELF\x02" and head[16:18] == b"\x04\x00")


def _open_vmcore_file() -> Optional[str]:
    # drgn opens the vmcore and keeps it open; /proc/self/fd names it. Not
    # /proc/kcore: the live kernel is read through drgn.
    import os

    found = set()
    try:
        fds = os.listdir("/proc/self/fd")
    except OSError:
        return None
    for fd in fds:
        try:
            path = os.readlink(f"/proc/self/fd/{fd}")
            if not path.startswith("/") or path.startswith("/proc/") or \
                    not os.path.isfile(path):
                continue
            with open(path, "rb") as f:
                if _is_vmcore(f.read(18)):
                    found.add(path)
        except OSError:
            continue
    return found.pop() if len(found) == 1 else None


def _usable_cpus() -> int:
    # The CPUs this process may run on (taskset, cpusets), else all of them.
    import os

    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _c_engine() -> Optional[CEngine]:
    """Register the C engine as "c" in :data:`ENGINES` when it is built."""
    global DEFAULT_ENGINE
    try:
        import memcg_zombies._scan as _scan
    except ImportError:
        return None

    def scan_c(prog: Program, owners: Optional[Set[int]],
               ranges: Optional[Iterable[Tuple[int, int]]] = None, *,
               reader: Optional[str] = None, threads: Optional[int] = None,
               vmcore: Optional[str] = None) -> PageScan:
        start = time.monotonic()
        lay = layout(prog)
        if lay.no_page_scan is not None:
            raise ValueError(lay.no_page_scan)
        reader = reader or C_OPTIONS["reader"]
        vmcore = vmcore or C_OPTIONS["vmcore"]
        if reader != "drgn" and vmcore is None:
            vmcore = _open_vmcore_file()
        if reader == "drgn" or vmcore is None:
            if reader == "kdump":
                raise ValueError("the kdump reader needs C_OPTIONS['vmcore']")
            vmcore = None
        nthreads = threads or C_OPTIONS["threads"] or _usable_cpus()
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
        engine.last_stats = dict(stats, reader=s.reader, threads=s.threads)
        return s

    # The function object is the engine: it carries last_stats as an attribute.
    engine = cast(CEngine, scan_c)
    ENGINES["c"] = engine
    DEFAULT_ENGINE = "c"
    return engine


_c_engine()
