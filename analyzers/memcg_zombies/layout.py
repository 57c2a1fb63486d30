"""
Era facts
---------

Every difference between kernel versions that the analyzers care about is
decided here, by looking at the types and symbols in the debug info, never at
the release string (distribution kernels backport freely). Each branch names
the upstream change that introduced the layout it handles.

Use :func:`layout` to get the (cached) :class:`Layout` of a program.
"""

import re
from typing import Callable, Dict, Optional, Tuple, TypeVar

from drgn import Architecture, FaultError, Object, Program, TypeKind

__all__ = ("Layout", "layout", "has_member", "per_program")

T = TypeVar("T")

# enum in include/linux/cgroup-defs.h; values have not changed since they were
# introduced, they are only the fallback when the enumerators are not in the
# debug info.
_CSS_FLAGS = (
    ("CSS_NO_REF", 1),
    ("CSS_ONLINE", 2),
    ("CSS_RELEASED", 4),
    ("CSS_VISIBLE", 8),
    ("CSS_DYING", 0x10),
)


def _type(prog: Program, name: str):
    try:
        return prog.type(name)
    except LookupError:
        return None


def has_member(prog: Program, type_name: str, member: str) -> bool:
    """Whether ``type_name`` exists and has ``member`` (False when either is missing)."""
    t = _type(prog, type_name)
    if t is None:
        return False
    try:
        return t.has_member(member)
    except (LookupError, TypeError):
        return False


def _constant(prog: Program, name: str) -> Optional[int]:
    """An enumerator or variable's value; None if absent or unreadable (a damaged or
    filtered dump must not stop the layout from being learned)."""
    try:
        return prog[name].value_()
    except (LookupError, ValueError, FaultError):
        return None


def _vmcoreinfo_number(prog: Program, name: str) -> Optional[int]:
    """NUMBER(name) of the kernel's own VMCOREINFO note (vmcoreinfo_data, v4.13+),
    or None. drgn 0.0.22 does not expose these numbers itself."""
    try:
        size = prog["vmcoreinfo_size"].value_()
        text = prog.read(prog["vmcoreinfo_data"].value_(), min(size, 1 << 16))
    except (LookupError, FaultError, ValueError):
        return None
    m = re.search(rb"^NUMBER\(" + re.escape(name.encode()) + rb"\)=(-?\d+)$", text, re.M)
    return int(m.group(1)) if m else None


class Layout:
    """What this kernel looks like, read once from its debug info."""

    def __init__(self, prog: Program) -> None:
        self.prog = prog
        #: per_program()'s values: runtime facts read once, kept with the Layout.
        self.memo: Dict[object, object] = {}

        # kernfs_node::parent became the RCU pointer __parent in v6.15,
        # 633488947ef6 ("kernfs: Use RCU to access kernfs_node::parent.").
        self.kn_parent = (
            "__parent"
            if has_member(prog, "struct kernfs_node", "__parent")
            else "parent"
        )

        # The kernfs node id is the cgroup id.
        # - v5.5+, 67c0496e87d1 ("kernfs: convert kernfs_node->id from union
        #   kernfs_node_id to u64"): a u64; on 64-bit the low 32 bits are the
        #   inode number and the generation is not encoded, so id == ino.
        # - v4.14..v5.4: union kernfs_node_id { struct { u32 ino, generation; }; u64 id; }
        #   (the id is what cgroup_id() returns, the inode is .ino).
        # - before v4.14: only "unsigned int ino".
        kn_type = _type(prog, "struct kernfs_node")
        self.kn_id = None
        if kn_type is not None and kn_type.has_member("id"):
            id_type = kn_type.member("id").type
            while id_type.kind == TypeKind.TYPEDEF:
                id_type = id_type.type
            self.kn_id = "u64" if id_type.kind == TypeKind.INT else "union"
        elif kn_type is not None and kn_type.has_member("ino"):
            self.kn_id = "ino"

        # v5.10, 2b0d3d3e4fcf ("percpu_ref: reduce memory footprint of
        # percpu_ref in fast path") moved everything but percpu_count_ptr into
        # a separately allocated struct percpu_ref_data.
        self.percpu_ref_data = has_member(prog, "struct percpu_ref", "data")

        # cgroup.stat's nr_dying_descendants, v4.14, ec39225cca42 ("cgroup: add
        # cgroup.stat interface with basic hierarchy stats").
        self.has_nr_dying_descendants = has_member(
            prog, "struct cgroup", "nr_dying_descendants"
        )
        # Per-subsystem dying css counts, v6.11, ab0312526867 ("cgroup: Show #
        # of subsystem CSSes in cgroup.stat"). Counts a dying memcg css even
        # when its cgroup is alive (memory disabled in subtree_control).
        self.has_nr_dying_subsys = has_member(prog, "struct cgroup", "nr_dying_subsys")

        self.memory_cgrp_id = _constant(prog, "memory_cgrp_id")

        # CSS_DYING only exists since about v4.16-v4.18 (believed, not
        # checked); read whatever enumerators this kernel has.
        self.css_flags: Dict[str, int] = {}
        for name, fallback in _CSS_FLAGS:
            value = _constant(prog, name)
            if value is not None:
                self.css_flags[name] = value
            elif name != "CSS_DYING":
                self.css_flags[name] = fallback
        self.CSS_ONLINE = self.css_flags["CSS_ONLINE"]
        self.CSS_RELEASED = self.css_flags["CSS_RELEASED"]

        t = _type(prog, "unsigned long")
        self.bits_per_long = t.size * 8 if t is not None else 64

        self._init_pages(prog)
        self._init_refs(prog)
        self._init_state(prog)

    # -- Pages, folios and slab: how memory names its owner --------------------
    def _init_pages(self, prog: Program) -> None:
        # [pages-and-slab facts] Everything scan.py needs to parse raw struct
        # page bytes, and the css-ref rules of pinners/pages.py and slab.py.
        page_t = _type(prog, "struct page")
        self.page_size = page_t.size if page_t is not None else 64

        def off(t, member):
            try:
                return t.member(member).bit_offset // 8 if t is not None else None
            except LookupError:
                return None

        self.page_off = {m: off(page_t, m) for m in
                         ("flags", "mapping", "private", "page_type", "_mapcount",
                          "_refcount")}
        # page->mem_cgroup became page->memcg_data in v5.11, bcfe06bf2622
        # ("mm: memcontrol: Use helpers to read page's memcg data").
        self.page_memcg = next((m for m in ("memcg_data", "mem_cgroup")
                                if has_member(prog, "struct page", m)), None)
        self.page_off["memcg"] = off(page_t, self.page_memcg) if self.page_memcg else None
        # compound_head was renamed compound_info in v7.1, d50569612c29 ("mm:
        # rename the 'compound_head' field in the 'struct page' to
        # 'compound_info'"); 8c846c879e22 (v7.1) then lets a tail encode a mask
        # of its head's address (HVO with a power-of-2 struct page; struct
        # zone::vmemmap_tails appeared with it). Before, 5.18's e7d324850bfc
        # ("mm: hugetlb: free the 2nd vmemmap page associated with each
        # HugeTLB page") can make "fake heads": PG_head on a tail.
        self.compound_member = next((m for m in ("compound_info", "compound_head")
                                     if has_member(prog, "struct page", m)), None)
        self.page_off["compound"] = (off(page_t, self.compound_member)
                                     if self.compound_member else None)
        size = self.page_size
        self.compound_info_mask = (
            self.compound_member == "compound_info" and size & (size - 1) == 0
            and has_member(prog, "struct zone", "vmemmap_tails"))
        self.fake_heads_possible = self.compound_member == "compound_head"

        # Page flag bits move between versions: read enum pageflags.
        self.PG: Dict[str, int] = {}
        pf = _type(prog, "enum pageflags")
        for e in (pf.enumerators if pf is not None else ()):
            self.PG.setdefault(e.name, e.value)
        # PageSlab is a page flag up to v6.9 and a page type since v6.10,
        # 46df8e73a4a3 ("mm: free up PG_slab").
        self.pg_slab = self.PG.get("PG_slab")

        # page_type (the _mapcount word): v6.12's 4ffca5a96678 ("mm: support
        # only one page_type per page") stores the type in the top byte (enum
        # pagetype PGTY_*); before, from v4.18's 6e292b9be7f4 ("mm: split
        # page_type out of _mapcount"), types are cleared bits under
        # PAGE_TYPE_BASE 0xf0000000 (#defines, not in debug info).
        pgty = _type(prog, "enum pagetype")
        if pgty is not None:
            self.page_type_encoding = "top_byte"
            self.page_types = {e.name[len("PGTY_"):]: e.value for e in pgty.enumerators}
        else:
            self.page_type_encoding = "inverted"
            # PG_buddy 0x80 and PG_offline 0x100 since v5.0; PG_kmemcg 0x200
            # from v4.18 until v5.11 (bcfe06bf2622 dropped it with memcg_data);
            # PG_slab 0x1000 in v6.10-v6.11 (46df8e73a4a3).
            self.page_types = {"buddy": 0x80, "offline": 0x100}
            if self.page_memcg == "mem_cgroup":
                self.page_types["kmemcg"] = 0x200
            if self.pg_slab is None:
                self.page_types["slab"] = 0x1000
            if self.page_off["page_type"] is None and self.page_off["_mapcount"] is not None:
                # Before v4.18 (6e292b9be7f4) there is no page_type: PageBuddy
                # and PageKmemcg compare _mapcount with PAGE_*_MAPCOUNT_VALUE
                # (checked 4.9: buddy -128, balloon -256, kmemcg -512). Of
                # those only -512 (0xfffffe00) has bit 8 clear under the set
                # top nibble, so the inverted test with 0x100 is exact for
                # kmemcg; buddy pages are told by their zero refcount instead.
                self.page_type_encoding = "mapcount"
                self.page_off["page_type"] = self.page_off["_mapcount"]
                self.page_types = {"kmemcg": 0x100}

        # memcg_data low bits, enum page_memcg_data_flags (v5.11): bit 0
        # MEMCG_DATA_OBJCGS (renamed MEMCG_DATA_OBJEXTS in v6.10, 21c690a349ba
        # "mm: introduce slabobj_ext to support slab object extensions"),
        # bit 1 MEMCG_DATA_KMEM. v5.9-v5.10 tag only the objcg vector (bit 0).
        self.memcg_data_vector_bit = (_constant(prog, "MEMCG_DATA_OBJEXTS")
                                      or _constant(prog, "MEMCG_DATA_OBJCGS") or 1)
        self.memcg_data_kmem_bit = _constant(prog, "MEMCG_DATA_KMEM")
        nr_flags = _constant(prog, "__NR_MEMCG_DATA_FLAGS")
        self.memcg_data_mask = (nr_flags - 1) if nr_flags else 3
        # slab->obj_exts also carries enum objext_flags (v6.10), low 3 bits.
        nr_objext = _constant(prog, "__NR_OBJEXTS_FLAGS")
        self.obj_exts_mask = max(self.memcg_data_mask, (nr_objext - 1) if nr_objext else 0)

        # Who a charged folio names. v7.1's LRU reparenting series made every
        # folio hold an objcg (obj_cgroup::is_root and the per-node objcg in
        # mem_cgroup_per_node appeared with it); before, a mem_cgroup pointer.
        self.folio_memcg_is_objcg = (
            has_member(prog, "struct obj_cgroup", "is_root")
            or has_member(prog, "struct mem_cgroup_per_node", "objcg"))
        # Kmem pages hold an objcg since v5.14, b4e0b68fbd9d ("mm: memcontrol:
        # use obj_cgroup APIs to charge kmem pages"), which added
        # obj_cgroup_uncharge_pages(); before, a memcg (v5.11: |KMEM; up to
        # v5.10: page->mem_cgroup plus PageKmemcg).
        try:
            prog["obj_cgroup_uncharge_pages"]
            uncharge_pages = True
        except (LookupError, ValueError):
            uncharge_pages = False
        self.kmem_memcg_is_objcg = self.page_memcg == "memcg_data" and uncharge_pages
        # Slab objects are charged per object to an objcg since v5.9,
        # bf4f059954dc ("mm: memcg/slab: obj_cgroup API").
        self.has_objcg = _type(prog, "struct obj_cgroup") is not None

        # css references each charged thing holds (reference §5):
        # - LRU folios: v5.9's 1a3e1f40962c ("mm: memcontrol: decouple
        #   reference counting from page accounting") takes one css_get per
        #   folio; before, css_get_many per charge batch, one per page. v7.1
        #   folios hold only an objcg.
        self.lru_css_ref_unit = (None if self.folio_memcg_is_objcg
                                 else "folio" if self.has_objcg else "page")
        # - kmem pages: one css ref per page while they name a memcg (<=v5.13).
        self.kmem_css_refs_per_page = 0 if self.kmem_memcg_is_objcg else 1
        # - slab objects: objcg refs only (v5.9+); before, per-memcg caches.
        self.slab_css_refs_per_object = 0 if self.has_objcg else None
        # - slab pages of per-memcg caches (docs/kernel-eras.md section 3): up to v5.2
        #   memcg_charge_slab() sets page->mem_cgroup on the slab page and
        #   try_charge() holds one css ref per page (checked 4.9, 4.19).
        #   v5.3's 4d96ba353075 ("mm: memcg/slab: stop setting
        #   page->mem_cgroup pointer for slab pages") moved those refs onto
        #   the cache's memcg_params.refcnt (percpu_ref, added by the same
        #   series), and the cache holds one css ref instead (see
        #   pinners/kmem_caches.py). memcg_params without refcnt: era A.
        kmem_cache_t = _type(prog, "struct kmem_cache")
        params_t = (kmem_cache_t.member("memcg_params").type
                    if kmem_cache_t is not None and kmem_cache_t.has_member("memcg_params")
                    else None)
        self.slab_page_names_memcg = (params_t is not None and self.page_memcg == "mem_cgroup"
                                      and not params_t.has_member("refcnt"))
        self.slab_css_refs_per_page = 1 if self.slab_page_names_memcg else 0
        # - a per-memcg cache itself: one css ref from memcg_link_cache()
        #   (css_get) from v5.3 until v5.9 removed per-memcg caches; moved to
        #   the parent by memcg_deactivate_kmem_caches() (v5.3, believed
        #   fb2f2b0adb98 "mm: memcg/slab: reparent memcg kmem_caches on
        #   cgroup removal"). None: no per-memcg caches.
        self.kmem_cache_css_refs = (None if params_t is None
                                    else 1 if params_t.has_member("refcnt") else 0)

        # Slab containers. struct slab overlays struct page since v5.17,
        # d122019bf061 ("mm: Split slab into its own type"); it names the
        # vector memcg_data until v6.10 (obj_exts, 21c690a349ba). v7.0 adds
        # slab->stride (vector elements may live inside the objects).
        slab_t = _type(prog, "struct slab")
        self.slab_struct = "slab" if slab_t is not None else "page"
        st = slab_t if slab_t is not None else page_t
        self.slab_vector = next((m for m in ("obj_exts", "memcg_data", "obj_cgroups",
                                             "mem_cgroup")
                                 if st is not None and st.has_member(m)),
                                None)
        self.slab_off = {"cache": off(st, "slab_cache"),
                         "vector": off(st, self.slab_vector) if self.slab_vector else None,
                         "stride": off(st, "stride")}
        try:
            objects = st.member("objects")
            self.slab_objects_bits: Optional[Tuple[int, int]] = (
                objects.bit_offset, objects.bit_field_size or 32)
        except (LookupError, AttributeError):
            self.slab_objects_bits = None
        # Vector element: struct slabobj_ext (v6.10; 8 or 16 bytes with
        # CONFIG_MEM_ALLOC_PROFILING), else a bare struct obj_cgroup *.
        ext_t = _type(prog, "struct slabobj_ext")
        self.slabobj_ext_size = ext_t.size if ext_t is not None else 8
        # v7.3 (slab/for-7.3/objext_split: "mm/slab: replace slab.stride with
        # obj_exts_in_object", "mm/slab: stop allocating objcg pointers when
        # unnecessary"): slabobj_ext is a union of the objcg and the codetag
        # ref, an object's extension is one objcg element if the slab's
        # obj_exts_needs_objcg bit says so (none otherwise), then one codetag
        # element if slab_obj_ext_has_codetag_key is on; they sit s->size
        # apart inside the objects when obj_exts_in_object is set.
        def bit(member):
            try:
                return st.member(member).bit_offset if st is not None else None
            except LookupError:
                return None
        self.slab_needs_objcg_bit = bit("obj_exts_needs_objcg")
        self.slab_in_object_bit = bit("obj_exts_in_object")
        self.kmem_cache_size_off = off(kmem_cache_t, "size")
        self.obj_ext_codetag = 0
        if self.slab_needs_objcg_bit is not None:
            try:
                key = prog["slab_obj_ext_has_codetag_key"]  # CONFIG_MEM_ALLOC_PROFILING
                self.obj_ext_codetag = int(key.key.enabled.counter.value_() > 0)
            except (LookupError, FaultError, AttributeError):
                pass

        # folio->mapping low bits, PAGE_MAPPING_ANON / _MOVABLE (KSM: both),
        # FOLIO_MAPPING_ANON by v6.19: unchanged values, #defines.
        self.PAGE_MAPPING_ANON = 1
        self.PAGE_MAPPING_FLAGS = 3

        # Where the memmap is: SPARSEMEM_VMEMMAP's vmemmap (drgn synthesizes
        # the macro's value; vmemmap_base under KASLR on x86_64).
        self.vmemmap = None
        for name in ("vmemmap", "vmemmap_base"):
            try:
                self.vmemmap = prog[name].value_()
                break
            except (LookupError, ValueError, FaultError):
                continue

        # Which sparse sections have a memmap (scan.memmap_ranges), so that a
        # hole (the PCI hole of any guest over 3 GiB) is not read and counted
        # as faults: mem_section is a pointer to roots of PAGE_SIZE /
        # sizeof(struct mem_section) sections under SPARSEMEM_EXTREME (v2.6.16,
        # 3e347261a80b "sparsemem extreme implementation"), else an array of
        # one-section roots. SECTION_HAS_MEM_MAP has been bit 1 of
        # section_mem_map since sparsemem began. SECTION_SIZE_BITS is in
        # VMCOREINFO since v5.14 (4f5aecdff25f "crash_core, vmcoreinfo: append
        # 'SECTION_SIZE_BITS' to vmcoreinfo"); before, x86-64's is 27.
        self.mem_section_extreme = None
        try:
            self.mem_section_extreme = prog["mem_section"].type_.kind == TypeKind.POINTER
        except LookupError:
            pass  # !CONFIG_SPARSEMEM
        self.section_has_mem_map = 1 << 1
        self.section_size_bits = _vmcoreinfo_number(prog, "SECTION_SIZE_BITS")
        if self.section_size_bits is None and prog.platform is not None and \
                prog.platform.arch == Architecture.X86_64:
            self.section_size_bits = 27

        # Naming a page-cache file (pinners/pages.py inode_path): an inode's
        # i_dentry list links dentry->d_u.d_alias since v3.19, 946e51f2bf37
        # ("move d_rcu from overlapping d_alias to overlapping d_child");
        # dentry->d_alias before, and again once that union became anonymous
        # (seen in Debian 7.2; believed v7.x), d_alias then resolving through it.
        self.dentry_alias = ("d_u.d_alias" if has_member(prog, "struct dentry", "d_u")
                             else "d_alias")

    # -- References held elsewhere: ids, swap, sockets, writeback, stock, bpf -----
    def _init_refs(self, prog: Program) -> None:
        def _has_symbol(prog: Program, name: str) -> bool:
            try:
                prog.symbol(name)
                return True
            except LookupError:
                return False

        # The memcg private id (memcg->id, what swap records): struct
        # mem_cgroup_id since v4.8, renamed struct mem_cgroup_private_id in
        # v7.0 when mem_cgroup_id() started returning the cgroup id.
        self.memcg_id_struct = next(
            (t for t in ("struct mem_cgroup_private_id", "struct mem_cgroup_id")
             if _type(prog, t) is not None), None)
        # (Its table, mem_cgroup_idr / mem_cgroup_ids / mem_cgroup_private_ids,
        # is self.memcg_id_table, set with the state facts.)
        # Who records the owner of a swap slot (mm/swap_cgroup.c, then the
        # swap table):
        # - "pages": swap_cgroup_ctrl[].map is a struct page ** of u16 ids
        #   (up to about v6.13; 6.12 checked);
        # - "flat": map is one vmalloc'd struct swap_cgroup array, one u16
        #   id (or, with "atomic_t ids", two ids per word) per slot (about
        #   v6.14, Kairui Song's swap_cgroup rework; 6.19 checked);
        # - "cluster": no swap_cgroup_ctrl, swap_cluster_info.memcg_table
        #   holds unsigned short id[SWAPFILE_CLUSTER] per cluster (the swap
        #   table rework; seen in 7.2);
        # - None: no swap accounting (!CONFIG_SWAP or !CONFIG_MEMCG).
        self.swap_cgroup = None
        ctrl = _type(prog, "struct swap_cgroup_ctrl")
        if ctrl is not None and _has_symbol(prog, "swap_cgroup_ctrl"):
            map_type = ctrl.member("map").type.type
            while map_type.kind == TypeKind.TYPEDEF:
                map_type = map_type.type
            self.swap_cgroup = "pages" if map_type.kind == TypeKind.POINTER else "flat"
        elif has_member(prog, "struct swap_cluster_info", "memcg_table"):
            self.swap_cgroup = "cluster"
        # Dying cgroup writeback structures are moved to the list
        # offline_cgwbs in v5.14, c22d70a162d3 ("writeback, cgroup: release
        # dying cgwbs by switching attached inodes"); before, they stay on
        # memcg->cgwb_list (CONFIG_CGROUP_WRITEBACK).
        self.has_offline_cgwbs = _has_symbol(prog, "offline_cgwbs")
        self.has_cgwb = has_member(prog, "struct bdi_writeback", "memcg_css")
        # The inode lists of a bdi_writeback that exist here (b_dirty_time
        # since v4.0, a2f4870697a5 "fs: make sure the timestamps for lazytime
        # inodes eventually get written"; b_attached since v5.14, f3b6a6df38aa
        # "writeback, cgroup: keep list of inodes attached to bdi_writeback").
        self.wb_inode_lists = [m for m in ("b_dirty", "b_io", "b_more_io", "b_dirty_time",
                                           "b_attached")
                               if has_member(prog, "struct bdi_writeback", m)]
        # Per-CPU charge stock (struct memcg_stock_pcp):
        # - "single": one cached memcg (+ cached_objcg since v5.9);
        # - "task_irq": v5.14-v5.19 split the objcg cache into task_obj and
        #   irq_obj struct obj_stock ("mm/memcg: optimize user context object
        #   stock access", reverted in v6.0);
        # - "array": cached[NR_MEMCG_STOCK] memcgs plus a separate per-CPU
        #   obj_stock_pcp with cached[] objcgs (multi-memcg stock, by v6.19).
        stock = _type(prog, "struct memcg_stock_pcp")
        self.memcg_stock = None
        # A "single" stock also caches one objcg (cached_objcg/nr_bytes) since
        # v5.9, bf4f059954dc ("mm: memcg/slab: obj_cgroup API").
        self.memcg_stock_cached_objcg = (stock is not None
                                         and stock.has_member("cached_objcg"))
        if stock is not None:
            cached = stock.member("cached").type
            while cached.kind == TypeKind.TYPEDEF:
                cached = cached.type
            if cached.kind == TypeKind.ARRAY:
                self.memcg_stock = "array"
            elif stock.has_member("task_obj"):
                self.memcg_stock = "task_irq"
            else:
                self.memcg_stock = "single"
        # What a BPF map charges: map->memcg (css ref) from v5.11,
        # 48edc1f78aab ("bpf: Prepare for memcg-based memory accounting for
        # bpf maps"); map->objcg (objcg ref) by v6.1. Neither: no
        # CONFIG_MEMCG_KMEM accounting of maps (or no CONFIG_BPF_SYSCALL).
        self.bpf_map_owner = next(
            (m for m in ("objcg", "memcg") if has_member(prog, "struct bpf_map", m)), None)
        # TCP listeners hash: listening_hash[] until v5.19, cae3873c5b3a
        # ("inet: Remove listening_hash"); lhash2 (nulls lists, linked through
        # sk_nulls_node) after. Before, lhash2 links icsk_listen_portaddr_node.
        self.tcp_listening_hash = has_member(prog, "struct inet_hashinfo", "listening_hash")
        # The chain head of a struct inet_listen_hashbucket: "head" (an
        # hlist_head) before v5.4; v5.4 added the nulls_head alias (a union
        # with head; believed 8dbd76e79a16 "tcp/dccp: fix possible race
        # __inet_lookup_established()"), and v5.19 (cae3873c5b3a) kept only
        # nulls_head. DepSurf type dumps: head only in 4.8..5.3, both in
        # 5.4..5.15, nulls_head only from 5.19. Both start with one pointer.
        self.tcp_listen_head = next(
            (m for m in ("nulls_head", "head")
             if has_member(prog, "struct inet_listen_hashbucket", m)), None)
        # sk->sk_memcg needs CONFIG_MEMCG (socket accounting, v4.5).
        self.has_sk_memcg = has_member(prog, "struct sock", "sk_memcg")

    # -- State of a memcg: counters, stats, reparenting, cost ----------------------
    def _init_state(self, prog: Program) -> None:
        # Facts for state.py, reparent.py and cost.py. [state facts]
        mc = _type(prog, "struct mem_cgroup")
        pn = _type(prog, "struct mem_cgroup_per_node")

        def mc_has(member: str) -> bool:
            return has_member(prog, "struct mem_cgroup", member)

        def _object(prog: Program, name: str) -> Optional[Object]:
            # A variable or function symbol, None when absent.
            try:
                return prog[name]
            except KeyError:
                return None

        # memcg->id: struct mem_cgroup_id { int id; atomic_t ref; } since v4.8
        # ("mm: memcontrol: fix cgroup creation failure after many small
        # jobs"); ref is a refcount_t by v5.3 (checked; believed v4.17);
        # renamed struct mem_cgroup_private_id in v7.0, when mem_cgroup_id()
        # started returning the 64-bit cgroup id.
        self.memcg_id_type = None
        self.memcg_id_ref = None
        if mc is not None and mc.has_member("id"):
            t = mc.member("id").type
            self.memcg_id_type = t.type_name()
            ref_t = t.member("ref").type if t.has_member("ref") else None
            if ref_t is not None:
                self.memcg_id_ref = "refcount_t" if "refcount" in ref_t.type_name() else "atomic_t"
        # The memcg id table: mem_cgroup_idr (IDR, v4.8..v6.10); the xarray
        # mem_cgroup_ids (v6.11, believed; checked 6.12); mem_cgroup_private_ids
        # (v7.0, with the private-id rename).
        self.memcg_id_table = None
        for sym, kind in (("mem_cgroup_private_ids", "xarray"),
                          ("mem_cgroup_ids", "xarray"),
                          ("mem_cgroup_idr", "idr")):
            if _object(prog, sym) is not None:
                self.memcg_id_table = (sym, kind)
                break
        # Before v4.11's 0a835c4f090a ("Reimplement IDR and IDA using the
        # radix tree") an IDR is a tree of struct idr_layer (idr->top,
        # layer->ary[1 << IDR_BITS]) with no idr_rt (checked 4.9).
        if (self.memcg_id_table is not None and self.memcg_id_table[1] == "idr"
                and has_member(prog, "struct idr", "top")
                and not has_member(prog, "struct idr", "idr_rt")):
            self.memcg_id_table = (self.memcg_id_table[0], "idr_layers")
        # An IDR's ids start at idr->idr_base since v4.16, 6ce711f27500 ("idr:
        # Make 1-based IDRs more efficient"); 0 before. idr->idr_rt is a
        # struct xarray since v4.20 (the XArray conversion: radix_tree_root
        # became an alias of struct xarray); a struct radix_tree_root in
        # v4.11..v4.19 (believed).
        self.idr_base = has_member(prog, "struct idr", "idr_base")
        idr_t = _type(prog, "struct idr")
        self.idr_rt_xarray = (idr_t is not None and idr_t.has_member("idr_rt")
                              and idr_t.member("idr_rt").type.type_name() == "struct xarray")

        # struct page_counter (v4.3): "count" until v4.18's "mm: rename
        # page_counter's count/limit into usage/max" (checked 4.9 / 4.19).
        self.page_counter_usage = (
            "usage" if has_member(prog, "struct page_counter", "usage") else "count")
        # swap (v2) and memsw (v1) share storage in an anonymous union (Debian
        # 5.10 has it; separate fields in 5.9 sources, believed v5.10's
        # "mm: memcontrol: ... swap/memsw union"). kmem and tcpmem are v1 only
        # and sit under CONFIG_MEMCG_V1 from v6.12, so they may be missing.
        self.page_counters = [c for c in ("memory", "swap", "memsw", "kmem", "tcpmem")
                              if mc_has(c)]
        self.swap_memsw_union = False
        if mc is not None and mc_has("swap") and mc_has("memsw"):
            self.swap_memsw_union = (mc.member("swap").offset == mc.member("memsw").offset)

        # Where memory.stat lives:
        # - "percpu": v4.9 per-CPU memcg->stat (struct mem_cgroup_stat_cpu).
        # - "atomic_stat": v4.16..v5.1 atomic memcg->stat[] + batched
        #   stat_cpu ("mm: memcontrol: fix excessive complexity in memory.stat
        #   reporting").
        # - "atomic": v5.2..v5.12 hierarchical atomic memcg->vmstats[] +
        #   batched vmstats_percpu->stat[] ("mm: memcontrol: fix recursive
        #   statistics correctness & scalabilty").
        # - "rstat_embedded": v5.13, 2d146aa3aa84 ("mm: memcontrol: switch to
        #   rstat"): struct memcg_vmstats embedded in the memcg.
        # - "rstat_ptr": separately allocated by v6.1 (checked Debian 6.1;
        #   believed v6.0).
        self.vmstats = None
        if mc_has("vmstats"):
            t = mc.member("vmstats").type
            while t.kind == TypeKind.TYPEDEF:
                t = t.type
            if t.kind == TypeKind.POINTER:
                self.vmstats = "rstat_ptr"
            elif t.kind == TypeKind.STRUCT:
                self.vmstats = "rstat_embedded"
            else:
                self.vmstats = "atomic"
        elif mc_has("stat_cpu"):
            self.vmstats = "atomic_stat"
        elif mc_has("stat"):
            self.vmstats = "percpu"
        # Per-CPU statistics allocated with the memcg (sized by cost.py):
        # vmstats_percpu and vmstats_local since v5.2 (42a300353577 "mm:
        # memcontrol: fix recursive statistics correctness & scalabilty" and
        # 815744d75152 "mm: memcontrol: don't batch updates of local VM stats
        # and events"); vmstats_local gone with the v5.13 switch to rstat,
        # 2d146aa3aa84. DepSurf type dumps: vmstats_local absent
        # in 5.0, present 5.3..5.11.
        self.memcg_percpu_stats = [m for m in ("vmstats_percpu", "vmstats_local")
                                   if mc_has(m)]
        # v6.10 ("memcg: reduce memory for the lruvec and memcg stats")
        # compacted the state arrays behind mem_cgroup_stats_index[]: int8_t
        # holding index + 1 in v6.10, u8 with U8_MAX for "not a memcg stat"
        # by v6.12 (docs/kernel-eras.md section 6).
        self.stats_index = None
        idx = _object(prog, "mem_cgroup_stats_index")
        if idx is not None:
            et = idx.type_.type
            while et.kind == TypeKind.TYPEDEF:
                et = et.type
            self.stats_index = "s8_plus1" if et.is_signed else "u8"
        # Per-node memcg stats: atomic pn->lruvec_stat[] + per-CPU batch
        # (v4.16..v5.12), embedded rstat struct lruvec_stats (v5.13..),
        # separately allocated by v6.12 ("memcg: dynamically allocate
        # lruvec_stats", believed v6.10).
        self.lruvec_stats = None
        if pn is not None:
            if pn.has_member("lruvec_stats"):
                t = pn.member("lruvec_stats").type
                self.lruvec_stats = "ptr" if t.kind == TypeKind.POINTER else "embedded"
            elif pn.has_member("lruvec_stat"):
                self.lruvec_stats = "atomic"
        # Their per-CPU parts (cost.py): lruvec_stat_cpu v4.16..v5.12 (with
        # the atomic lruvec_stat[], a983b5ebee57 "mm: memcontrol: fix
        # excessive complexity in memory.stat reporting", believed),
        # lruvec_stat_local v5.2..v5.12 (815744d75152, believed),
        # lruvec_stats_percpu since v5.13 (2d146aa3aa84, believed).
        self.pn_percpu_stats = [m for m in ("lruvec_stats_percpu", "lruvec_stat_cpu",
                                            "lruvec_stat_local")
                                if pn is not None and pn.has_member(m)]
        # rstat per-CPU state (cost.py): cgroup->rstat_cpu since v4.18
        # (believed c58632b3631c "cgroup: Rename stat to rstat"); per css
        # (css->rstat_cpu) plus cgroup->rstat_base_cpu after the
        # per-subsystem rstat split (docs/kernel-eras.md section 4: seen from 6.19;
        # believed v6.16 upstream).
        self.css_rstat_cpu = has_member(prog, "struct cgroup_subsys_state", "rstat_cpu")
        self.cgroup_rstat_percpu = [m for m in ("rstat_cpu", "rstat_base_cpu")
                                    if has_member(prog, "struct cgroup", m)]
        # nodeinfo[]: a flexible array of nr_node_ids pointers allocated with
        # the memcg (struct_size() in mem_cgroup_alloc) on every test kernel;
        # a fixed-length array would be inside sizeof(struct mem_cgroup).
        self.nodeinfo_flexible = None
        if mc_has("nodeinfo"):
            t = mc.member("nodeinfo").type
            self.nodeinfo_flexible = not t.length  # length 0 or None

        # Reparenting mechanisms.
        # - Per-memcg kmem caches with memcg_params reparented, v5.3..v5.8
        #   ("mm: memcg/slab: reparent memcg kmem_caches on cgroup removal");
        #   gone in v5.9 ("mm: memcg/slab: use a single set of kmem_caches
        #   for all accounted allocations"). memcg_params itself is older.
        self.memcg_params = has_member(prog, "struct kmem_cache", "memcg_params")
        #   How the per-memcg caches are linked. DepSurf type dumps: 4.10
        #   has memcg_params.is_root_cache and slab_caches only; 4.13 has
        #   memcg_params.children/__root_caches_node (slab_root_caches) and
        #   memcg->kmem_caches (believed v4.11: 510ded33e075 "slab: implement
        #   slab_root_caches list", bc2791f857e1 "slab: link memcg kmem_caches
        #   on their associated memory cgroup"; both gone in v5.9).
        #   memcg_params.refcnt (v5.3) is kmem_cache_css_refs == 1.
        params_t = (_type(prog, "struct kmem_cache").member("memcg_params").type
                    if self.memcg_params else None)
        self.memcg_params_children = params_t is not None and params_t.has_member("children")
        self.memcg_params_is_root_cache = (params_t is not None
                                           and params_t.has_member("is_root_cache"))
        self.memcg_kmem_caches = mc_has("kmem_caches")
        # - obj_cgroup: v5.9 ("mm: memcg/slab: obj_cgroup API"); orig_objcg:
        #   v6.8 (checked 6.8 sources); per node since the v7.1
        #   LRU-to-objcg reparenting series (checked 7.1 sources, Debian 7.2).
        if mc_has("objcg"):
            self.objcg: Optional[str] = "memcg"
        elif pn is not None and pn.has_member("objcg"):
            self.objcg = "per_node"
        else:
            self.objcg = None
        self.orig_objcg = mc_has("orig_objcg") or (
            pn is not None and pn.has_member("orig_objcg"))
        #   objcg_list (the objcgs a memcg owns, spliced into the parent's
        #   at offline) came with memcg->objcg in v5.9 (bf4f059954dc) and
        #   moved per node with it in v7.1.
        if mc_has("objcg_list"):
            self.objcg_list: Optional[str] = "memcg"
        elif pn is not None and pn.has_member("objcg_list"):
            self.objcg_list = "per_node"
        else:
            self.objcg_list = None
        # - LRU folios reparented at offline (v7.1: lru_reparent_memcg): the
        #   same series made folio->memcg_data an objcg and moved objcgs per node.
        self.lru_reparent = self.objcg == "per_node" or _object(prog, "lru_reparent_memcg") is not None
        self.lru_gen = has_member(prog, "struct lruvec", "lrugen")
        #   MGLRU (v6.1) generation lists: lrugen->lists[] at first, renamed
        #   lrugen->folios[] in v6.3 (believed 6df1b2212950 "mm: multi-gen
        #   LRU: rename lrugen->lists[] to lrugen->folios[]"; DepSurf: folios[]
        #   in 6.5); Debian 6.1 already has folios[] (6.1.y backport).
        self.lru_gen_lists = None
        if self.lru_gen:
            lrugen_t = _type(prog, "struct lruvec").member("lrugen").type
            self.lru_gen_lists = "folios" if lrugen_t.has_member("folios") else "lists"
        # - list_lru: global list "list_lrus" (v4.x..v5.17, Debian 5.10),
        #   "memcg_list_lrus" by v6.1; v5.18's "mm: list_lru: replace linear
        #   array with xarray" (believed) moved per-memcg lists from
        #   lru->node[n].memcg_lrus->lru[] into lru->xa, indexed by kmemcg_id.
        self.list_lru_head = None
        for sym in ("memcg_list_lrus", "list_lrus"):
            if _object(prog, sym) is not None:
                self.list_lru_head = sym
                break
        if has_member(prog, "struct list_lru", "xa"):
            self.list_lru_memcg: Optional[str] = "xarray"
        elif has_member(prog, "struct list_lru_node", "memcg_lrus"):
            self.list_lru_memcg = "array"
        else:
            self.list_lru_memcg = None
        # - v6.13's per-cgroup list_lru locks ("mm/list_lru: split the lock to
        #   per-cgroup scope", believed) also changed offline: kmemcg_id is
        #   kept, the lru->xa entry is erased and the lists get nr_items =
        #   LONG_MIN; before, kmemcg_id was rewritten to the parent's.
        self.list_lru_dead_marker = has_member(prog, "struct list_lru_one", "lock")
        #   struct list_lru::memcg_aware: v5.2, believed 3e8589963773
        #   ("memcg: make it work on sparse non-0-node systems"; DepSurf:
        #   absent 5.0, present 5.3). Without it every lru on the global
        #   list is walked.
        self.list_lru_memcg_aware = has_member(prog, "struct list_lru", "memcg_aware")
        #   memcg->kmemcg_id, the list_lru index: CONFIG_MEMCG_KMEM (in every
        #   DepSurf dump 4.4..6.8), a config fact more than an era one.
        self.memcg_kmemcg_id = mc_has("kmemcg_id")
        #   memcg->kmem_state (enum memcg_kmem_state, offline sets
        #   KMEM_ALLOCATED): DepSurf: absent 4.4, present 4.8..5.15, gone by
        #   5.19 (believed v4.6 to v5.17).
        self.memcg_kmem_state = mc_has("kmem_state")
        # - Deferred THP split queue per memcg (v5.4, "mm: thp: make deferred
        #   split shrinker memcg aware"); reparented at offline in v6.19
        #   (reparent_deferred_split_queue); no memcg queue in Debian 7.2.
        self.memcg_deferred_split = mc_has("deferred_split_queue")
        self.deferred_split_reparent = _object(prog, "reparent_deferred_split_queue") is not None

    def kn_parent_of(self, kn: Object) -> Object:
        """``kn->parent`` (``kn->__parent`` on v6.15+)."""
        return getattr(kn, self.kn_parent)

    def kn_id_of(self, kn: Object) -> Optional[int]:
        """The kernfs node id as cgroup_id() returns it."""
        if self.kn_id == "u64":
            return kn.id.value_()
        if self.kn_id == "union":
            return kn.id.id.value_()
        if self.kn_id == "ino":
            return kn.ino.value_()
        return None

    def memcg_enabled(self) -> Optional[bool]:
        """
        False when booted with cgroup_disable=memory: mem_cgroup_disabled()
        tests the static key memory_cgrp_subsys_enabled_key that
        include/linux/cgroup.h generates per subsystem (believed since v4.6).
        None when the key is not in the debug info.
        """
        try:
            key = self.prog["memory_cgrp_subsys_enabled_key"]
            return bool(key.key.enabled.counter.value_())
        except (LookupError, AttributeError, ValueError, FaultError):
            return None

    def facts(self) -> Dict[str, object]:
        """The era facts, for the report."""
        d = self._facts_common()
        d.update(self._facts_pages())  # [pages-and-slab facts() entries]
        d.update(self._facts_refs())  # [refs facts() entries]
        d.update(self._facts_state())  # [state facts() entries]
        return d

    def _facts_pages(self) -> Dict[str, object]:
        return {  # [pages-and-slab facts() dict]
            "page_memcg": self.page_memcg,
            "compound": self.compound_member,
            "compound_info_mask": self.compound_info_mask,
            "page_type_encoding": self.page_type_encoding,
            "slab_flag": "PG_slab" if self.pg_slab is not None else "page_type",
            "slab_struct": self.slab_struct,
            "slab_vector": self.slab_vector,
            "slab_stride": self.slab_off["stride"] is not None,
            "slab_needs_objcg_bit": self.slab_needs_objcg_bit is not None,
            "slabobj_ext_size": self.slabobj_ext_size,
            "folio_memcg_is_objcg": self.folio_memcg_is_objcg,
            "kmem_memcg_is_objcg": self.kmem_memcg_is_objcg,
            "lru_css_ref_unit": self.lru_css_ref_unit,
            "kmem_css_refs_per_page": self.kmem_css_refs_per_page,
            "slab_css_refs_per_object": self.slab_css_refs_per_object,
            "slab_css_refs_per_page": self.slab_css_refs_per_page,
            "kmem_cache_css_refs": self.kmem_cache_css_refs,
            "dentry_alias": self.dentry_alias,
        }

    def _facts_refs(self) -> Dict[str, object]:
        return {
            "memcg_id_struct": self.memcg_id_struct,
            "swap_cgroup": self.swap_cgroup,
            "has_offline_cgwbs": self.has_offline_cgwbs,
            "has_cgwb": self.has_cgwb,
            "wb_inode_lists": list(self.wb_inode_lists),
            "memcg_stock": self.memcg_stock,
            "memcg_stock_cached_objcg": self.memcg_stock_cached_objcg,
            "bpf_map_owner": self.bpf_map_owner,
            "tcp_listening_hash": self.tcp_listening_hash,
            "tcp_listen_head": self.tcp_listen_head,
            "has_sk_memcg": self.has_sk_memcg,
        }

    def _facts_state(self) -> Dict[str, object]:
        # [state facts() dict]
        return {
            "memcg_id": self.memcg_id_type,
            "memcg_id_ref": self.memcg_id_ref,
            "memcg_id_table": None if self.memcg_id_table is None else self.memcg_id_table[0],
            "idr_base": self.idr_base,
            "idr_rt_xarray": self.idr_rt_xarray,
            "page_counter_usage": self.page_counter_usage,
            "page_counters": list(self.page_counters),
            "swap_memsw_union": self.swap_memsw_union,
            "vmstats": self.vmstats,
            "memcg_percpu_stats": list(self.memcg_percpu_stats),
            "stats_index": self.stats_index,
            "lruvec_stats": self.lruvec_stats,
            "pn_percpu_stats": list(self.pn_percpu_stats),
            "css_rstat_cpu": self.css_rstat_cpu,
            "cgroup_rstat_percpu": list(self.cgroup_rstat_percpu),
            "objcg": self.objcg,
            "orig_objcg": self.orig_objcg,
            "objcg_list": self.objcg_list,
            "memcg_params": self.memcg_params,
            "memcg_params_children": self.memcg_params_children,
            "memcg_params_is_root_cache": self.memcg_params_is_root_cache,
            "memcg_kmem_caches": self.memcg_kmem_caches,
            "lru_reparent": self.lru_reparent,
            "lru_gen": self.lru_gen,
            "lru_gen_lists": self.lru_gen_lists,
            "list_lru": self.list_lru_head,
            "list_lru_memcg": self.list_lru_memcg,
            "list_lru_memcg_aware": self.list_lru_memcg_aware,
            "list_lru_dead_marker": self.list_lru_dead_marker,
            "memcg_kmemcg_id": self.memcg_kmemcg_id,
            "memcg_kmem_state": self.memcg_kmem_state,
            "memcg_deferred_split": self.memcg_deferred_split,
            "deferred_split_reparent": self.deferred_split_reparent,
        }

    def _facts_common(self) -> Dict[str, object]:
        return {
            "kernfs_parent": self.kn_parent,
            "kernfs_id": self.kn_id,
            "percpu_ref": "percpu_ref_data" if self.percpu_ref_data else "inline",
            "has_nr_dying_descendants": self.has_nr_dying_descendants,
            "has_nr_dying_subsys": self.has_nr_dying_subsys,
            "memory_cgrp_id": self.memory_cgrp_id,
            "css_flags": dict(self.css_flags),
            "bits_per_long": self.bits_per_long,
        }


_cache: Dict[int, Layout] = {}


def layout(prog: Program) -> Layout:
    """The :class:`Layout` of ``prog``, computed on first use."""
    # Programs are not hashable by value on every drgn version; key by id()
    # and keep the program alive in the Layout so the id is not reused.
    lay = _cache.get(id(prog))
    if lay is None or lay.prog is not prog:
        lay = _cache[id(prog)] = Layout(prog)
    return lay


def per_program(prog: Program, key: object, compute: Callable[[], T]) -> T:
    """``compute()`` once per program (possible CPUs, type sizes): kept with the
    program's :class:`Layout`, cached the same way. An exception is not kept;
    the next call computes again."""
    memo = layout(prog).memo
    if key not in memo:
        memo[key] = compute()
    return memo[key]  # type: ignore[return-value]
