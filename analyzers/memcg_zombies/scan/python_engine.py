"""
The Python page-scan engine
---------------------------

One pass over every ``struct page`` of the memmap, counting what each memcg or
objcg owns. Python's drgn objects cost several microseconds each, so the memmap
is read in large chunks with :meth:`drgn.Program.read` and parsed as columns of
64-bit words (``memoryview.cast``). Order-0 pages are counted in bulk per
distinct combination of the bits that decide their class and owner
(``collections.Counter`` over zipped columns, all in C); only compound pages
and slabs with an object vector are looked at one by one.

What cannot be read (a hole in the memmap, an "Excluded page" of a filtered
dump) is recorded and skipped.
"""

import time
from collections import Counter, defaultdict
from itertools import compress, repeat
from operator import and_, not_, or_
from typing import Dict, Iterable, List, Optional, Set, Tuple

from drgn import FaultError, Program

from memcg_zombies.layout import layout
from memcg_zombies.scan.decoder import Decoder
from memcg_zombies.scan.memmap import Ranges, memmap_ranges, pairs
from memcg_zombies.scan.model import BY_MAPPING, MappingCount, PageScan, ScanOptions

__all__ = ("scan_python",)

#: Bytes of memmap read at once (16384 struct pages of 64 bytes).
CHUNK_BYTES = 1 << 20
#: After a failed chunk, retry in pieces this small before giving up on them.
_RETRY_BYTES = (1 << 16, 1 << 12)


class _Scanner:
    def __init__(self, prog: Program, owners: Optional[Set[int]]) -> None:
        self.prog = prog
        self.d = Decoder(layout(prog))
        base = layout(prog).memmap.vmemmap
        assert base is not None  # Decoder() refuses a Layout without a vmemmap
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
        if cls in BY_MAPPING and owner and (self.owners is None or owner in self.owners):
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
            if cls in BY_MAPPING and owner and (self.owners is None or owner in self.owners):
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


def scan_python(prog: Program, owners: Optional[Set[int]], ranges: Optional[Ranges],
                options: ScanOptions) -> PageScan:
    """The engine "python": reads through the Program; ``options`` has nothing for it."""
    scanner = _Scanner(prog, owners)
    scan = scanner.run(memmap_ranges(prog) if ranges is None else pairs(ranges))
    scan.engine, scan.reader, scan.threads = "python", "drgn", 1
    return scan
