"""
Synthetic kernels of the eras no real package covers (docs/kernel-eras.md sections 0-6)
-----------------------------------------------------------------------------

:class:`SyntheticKernel` declares, for one era, the few struct layouts the
analyzers read (member names, types and offsets as in that kernel; sizes and
unused members are trimmed) and offers helpers to place memcgs, pages and
kmem caches in memory:

- ``"4.9"``: ``page->mem_cgroup``, ``_mapcount`` -512 for kmem pages (no
  page_type), page_counter ``count``/``limit``, ``memcg->id`` with an atomic_t
  ref, the IDR of idr_layers, no CSS_DYING, kernfs ``ino``, memcg_params with
  ``is_root_cache`` and no ``memcg->kmem_caches``.
- ``"4.19"``: page_type with PG_kmemcg 0x200 (inverted), page_counter
  ``usage``, atomic ``stat[]`` + per-CPU ``stat_cpu``, memcg_params with
  root (memcg_caches, __root_caches_node, children) and child (memcg,
  children_node, kmem_caches_node) parts, ``memcg->kmem_caches``.
- ``"5.4"``: as 4.19, plus ``memcg_params.refcnt`` (percpu_ref) and a
  refcount_t ``memcg->id.ref``; slab pages do not name a memcg.

percpu_ref has the layout before v5.10 everywhere ({count, percpu_count_ptr,
release, confirm_switch, ...}).
"""

from typing import Dict, List, Optional, Sequence, Tuple

from tests.synthetic import Builder

__all__ = ("SyntheticKernel", "ERAS", "PERCPU_REF_ATOMIC", "PERCPU_REF_DEAD", "BIAS")

ERAS = ("4.9", "4.19", "5.4")

PERCPU_REF_ATOMIC, PERCPU_REF_DEAD = 1, 2
BIAS = 1 << 63  # PERCPU_COUNT_BIAS
CSS_NO_REF, CSS_ONLINE, CSS_RELEASED, CSS_VISIBLE, CSS_DYING = 1, 2, 4, 8, 0x10

PAGE_SIZE = 4096
VMEMMAP = 0xFFFFEA0000000000
NR_PAGES = 64
NR_CPUS = 2

# enum pageflags as in 4.9..5.4 (x86-64, no PG_uncached).
PAGEFLAGS = [
    ("PG_locked", 0), ("PG_referenced", 1), ("PG_uptodate", 2), ("PG_dirty", 3),
    ("PG_lru", 4), ("PG_active", 5), ("PG_waiters", 6), ("PG_error", 7), ("PG_slab", 8),
    ("PG_owner_priv_1", 9), ("PG_arch_1", 10), ("PG_reserved", 11), ("PG_private", 12),
    ("PG_private_2", 13), ("PG_writeback", 14), ("PG_head", 15), ("PG_mappedtodisk", 16),
    ("PG_reclaim", 17), ("PG_swapbacked", 18), ("PG_unevictable", 19), ("PG_mlocked", 20),
    ("__NR_PAGEFLAGS", 21), ("PG_checked", 9), ("PG_swapcache", 9),
]
PG = dict(PAGEFLAGS)


class SyntheticKernel:
    """One era's types and globals in a :class:`Builder`; helpers to add objects."""

    def __init__(self, era: str) -> None:
        assert era in ERAS, era
        self.era = era
        self.b = b = Builder()
        self.prog = b.prog
        self._types()
        self._globals()

    # -- types ---------------------------------------------------------------
    def _types(self) -> None:
        b, era = self.b, self.era
        b.struct("list_head", 16, [("next", "struct list_head *", 0),
                                   ("prev", "struct list_head *", 8)])
        b.struct("hlist_node", 16, [("next", "struct hlist_node *", 0),
                                    ("pprev", "struct hlist_node **", 8)])
        b.struct("hlist_head", 8, [("first", "struct hlist_node *", 0)])
        b.struct("rb_node", 24, [("__rb_parent_color", "unsigned long", 0),
                                 ("rb_right", "struct rb_node *", 8),
                                 ("rb_left", "struct rb_node *", 16)])
        b.struct("rcu_head", 16, [("next", "struct rcu_head *", 0), ("func", "void *", 8)])
        b.typedef("atomic_t", b.struct("atomic_t", 4, [("counter", "int", 0)]))
        b.typedef("atomic_long_t", b.struct("atomic_long_t", 8, [("counter", "long", 0)]))
        b.struct("refcount_struct", 4, [("refs", "atomic_t", 0)])
        b.typedef("refcount_t", "struct refcount_struct")
        b.struct("cpumask", 8, [("bits", "unsigned long [1]", 0)])

        # struct percpu_ref before v5.10 (2b0d3d3e4fcf).
        b.struct("percpu_ref", 56, [
            ("count", "atomic_long_t", 0), ("percpu_count_ptr", "unsigned long", 8),
            ("release", "void *", 16), ("confirm_switch", "void *", 24),
            ("force_atomic", "bool", 32, (0, 1)), ("rcu", "struct rcu_head", 40)])

        # cgroups and kernfs
        b.enum(None, [("CSS_NO_REF", 1), ("CSS_ONLINE", 2), ("CSS_RELEASED", 4),
                      ("CSS_VISIBLE", 8)] + ([("CSS_DYING", 0x10)] if era != "4.9" else []))
        b.enum("cgroup_subsys_id", [("cpuset_cgrp_id", 0), ("memory_cgrp_id", 1),
                                    ("CGROUP_SUBSYS_COUNT", 2)])
        b.struct("cgroup_subsys_state", 144, [
            ("cgroup", "struct cgroup *", 0), ("ss", "void *", 8),
            ("refcnt", "struct percpu_ref", 16), ("sibling", "struct list_head", 72),
            ("children", "struct list_head", 88), ("id", "int", 104),
            ("flags", "unsigned int", 108), ("serial_nr", "unsigned long long", 112),
            ("online_cnt", "atomic_t", 120), ("parent", "struct cgroup_subsys_state *", 128)])
        cgroup_members = [
            ("self", "struct cgroup_subsys_state", 0), ("flags", "unsigned long", 144),
            ("id", "int", 152), ("level", "int", 156), ("kn", "struct kernfs_node *", 160),
            ("root", "struct cgroup_root *", 168), ("ancestor_ids", "int [0]", 184)]
        if era != "4.9":
            # cgroup.stat's nr_dying_descendants: v4.14, ec39225cca42.
            cgroup_members.append(("nr_dying_descendants", "int", 176))
        b.struct("cgroup", 184, cgroup_members)
        b.struct("cgroup_root", 192, [("cgrp", "struct cgroup", 0), ("hierarchy_id", "int", 184)])
        kn = [("count", "atomic_t", 0), ("active", "atomic_t", 4),
              ("parent", "struct kernfs_node *", 8), ("name", "const char *", 16),
              ("rb", "struct rb_node", 24), ("flags", "unsigned short", 80)]
        if era == "4.9":
            kn.append(("ino", "unsigned int", 56))  # before v4.14
        else:
            b.struct("kernfs_node_id", 8, [("ino", "unsigned int", 0),
                                            ("generation", "unsigned int", 4),
                                            ("id", "unsigned long long", 0)], kind="union")
            kn.append(("id", "union kernfs_node_id", 56))  # v4.14..v5.4
        b.struct("kernfs_node", 96, kn)
        b.struct("new_utsname", 390, [("sysname", "char [65]", 0), ("release", "char [65]", 130)])
        b.struct("uts_namespace", 400, [("name", "struct new_utsname", 8)])

        # memcg
        if era == "4.9":
            b.struct("page_counter", 40, [
                ("count", "atomic_long_t", 0), ("limit", "unsigned long", 8),
                ("parent", "struct page_counter *", 16), ("watermark", "unsigned long", 24),
                ("failcnt", "unsigned long", 32)])
        else:
            b.struct("page_counter", 56, [
                ("usage", "atomic_long_t", 0), ("max", "unsigned long", 8),
                ("parent", "struct page_counter *", 16), ("min", "unsigned long", 24),
                ("low", "unsigned long", 32), ("watermark", "unsigned long", 40),
                ("failcnt", "unsigned long", 48)])
        pc = self.b.sizeof("struct page_counter")
        b.struct("mem_cgroup_id", 8, [("id", "int", 0),
                                      ("ref", "refcount_t" if era == "5.4" else "atomic_t", 4)])
        b.struct("lruvec", 96, [("lists", "struct list_head [5]", 0)])
        b.struct("mem_cgroup_per_node", 128, [("lruvec", "struct lruvec", 0)])
        mc: List[Tuple] = [("css", "struct cgroup_subsys_state", 0),
                           ("id", "struct mem_cgroup_id", 144)]
        off = 152
        for name in ("memory", "swap", "memsw", "kmem", "tcpmem"):
            mc.append((name, "struct page_counter", off))
            off += pc
        # memory.stat: 4.9 per-CPU memcg->stat; v4.16..v5.1 atomic stat[] +
        # per-CPU stat_cpu; v5.2+ vmstats[] + vmstats_percpu.
        if era == "4.9":
            b.struct("mem_cgroup_stat_cpu", 64, [("count", "long [4]", 0)])
            mc.append(("stat", "struct mem_cgroup_stat_cpu *", off))
            off += 8
        else:
            b.enum("node_stat_item", [("NR_FILE_PAGES", 0), ("NR_SLAB_UNRECLAIMABLE", 1),
                                      ("NR_VM_NODE_STAT_ITEMS", 2)])
            b.enum("memcg_stat_item", [("MEMCG_SOCK", 2), ("MEMCG_NR_STAT", 3)])
            if era == "4.19":
                b.struct("mem_cgroup_stat_cpu", 64, [("count", "long [3]", 0)])
                mc.append(("stat", "atomic_long_t [3]", off))
                mc.append(("stat_cpu", "struct mem_cgroup_stat_cpu *", off + 24))
            else:  # 5.2+: vmstats[] and vmstats_percpu->stat[]
                b.struct("mem_cgroup_stat_cpu", 64, [("stat", "long [3]", 0)])
                mc.append(("vmstats", "atomic_long_t [3]", off))
                mc.append(("vmstats_percpu", "struct mem_cgroup_stat_cpu *", off + 24))
            off += 32
        mc += [("kmemcg_id", "int", off), ("kmem_state", "int", off + 4)]
        off += 8
        if era != "4.9":
            mc.append(("kmem_caches", "struct list_head", off))
            off += 16
        mc.append(("nodeinfo", "struct mem_cgroup_per_node *[0]", off))
        b.struct("mem_cgroup", off, mc)
        self.memcg_size = off + 8  # with nodeinfo[1]

        # slab
        b.struct("memcg_cache_array", 16, [("rcu", "struct rcu_head", 0),
                                           ("entries", "struct kmem_cache *[0]", 16)])
        if era == "4.9":
            params = [("is_root_cache", "bool", 0), ("list", "struct list_head", 8),
                      ("memcg_caches", "struct memcg_cache_array *", 24),
                      ("memcg", "struct mem_cgroup *", 24),
                      ("root_cache", "struct kmem_cache *", 32)]
            size = 40
        else:
            params = [("root_cache", "struct kmem_cache *", 0),
                      # root part
                      ("memcg_caches", "struct memcg_cache_array *", 8),
                      ("__root_caches_node", "struct list_head", 16),
                      ("children", "struct list_head", 32), ("dying", "bool", 48),
                      # child part
                      ("memcg", "struct mem_cgroup *", 8),
                      ("children_node", "struct list_head", 16),
                      ("kmem_caches_node", "struct list_head", 32)]
            if era == "4.19":
                params += [("deact_fn", "void *", 48), ("deact_rcu_head", "struct rcu_head", 56)]
                size = 72
            else:
                params += [("refcnt", "struct percpu_ref", 48), ("work_fn", "void *", 104),
                           ("rcu_head", "struct rcu_head", 112)]
                size = 128
        b.struct("memcg_cache_params", size, params)
        b.struct("kmem_cache", 64 + size, [
            ("flags", "unsigned int", 0), ("size", "unsigned int", 8),
            ("object_size", "unsigned int", 12), ("name", "const char *", 16),
            ("list", "struct list_head", 24), ("memcg_params", "struct memcg_cache_params", 48)])

        # struct page (64 bytes)
        if era == "4.9":
            page = [("flags", "unsigned long", 0), ("mapping", "struct address_space *", 8),
                    ("index", "unsigned long", 16), ("freelist", "void *", 16),
                    ("_mapcount", "atomic_t", 24), ("_refcount", "atomic_t", 28),
                    ("lru", "struct list_head", 32), ("compound_head", "unsigned long", 32),
                    ("private", "unsigned long", 48), ("slab_cache", "struct kmem_cache *", 48),
                    ("mem_cgroup", "struct mem_cgroup *", 56)]
        else:
            page = [("flags", "unsigned long", 0), ("lru", "struct list_head", 8),
                    ("compound_head", "unsigned long", 8),
                    ("mapping", "struct address_space *", 24),
                    ("slab_cache", "struct kmem_cache *", 24), ("index", "unsigned long", 32),
                    ("freelist", "void *", 32), ("private", "unsigned long", 40),
                    ("_mapcount", "atomic_t", 48), ("page_type", "unsigned int", 48),
                    ("_refcount", "atomic_t", 52), ("mem_cgroup", "struct mem_cgroup *", 56)]
        b.struct("page", 64, page)
        b.enum("pageflags", PAGEFLAGS)

        # files
        b.struct("file_system_type", 16, [("name", "const char *", 0)])
        b.struct("super_block", 16, [("s_type", "struct file_system_type *", 0)])
        b.struct("qstr", 16, [("hash_len", "unsigned long", 0),
                              ("name", "const unsigned char *", 8)])
        b.struct("dentry", 64, [("d_parent", "struct dentry *", 0), ("d_name", "struct qstr", 8),
                                ("d_inode", "struct inode *", 24),
                                ("d_alias", "struct hlist_node", 32)])
        b.struct("inode", 64, [("i_sb", "struct super_block *", 0), ("i_ino", "unsigned long", 8),
                               ("i_dentry", "struct hlist_head", 16),
                               ("i_mapping", "struct address_space *", 24)])
        b.struct("address_space", 32, [("host", "struct inode *", 0),
                                       ("nrpages", "unsigned long", 8)])

        # old IDR (before v4.11) for 4.9; radix-tree IDRs are not modelled.
        if era == "4.9":
            b.struct("idr_layer", 8 + 256 * 8 + 8, [
                ("prefix", "int", 0), ("layer", "int", 4),
                ("ary", "struct idr_layer *[256]", 8), ("count", "int", 8 + 256 * 8)])
            b.struct("idr", 40, [("hint", "struct idr_layer *", 0),
                                 ("top", "struct idr_layer *", 8),
                                 ("layers", "int", 16), ("cur", "int", 20)])

    def _globals(self) -> None:
        b = self.b
        b.constant("PAGE_SIZE", "unsigned long", PAGE_SIZE)
        b.constant("PAGE_SHIFT", "int", 12)
        b.write_u64(b.var("max_pfn", "unsigned long"), NR_PAGES)
        b.write_u64(b.var("vmemmap_base", "unsigned long"), VMEMMAP)
        b.add_region(VMEMMAP, NR_PAGES * 64)
        b.write(b.var("nr_node_ids", "unsigned int"), (1).to_bytes(4, "little"))
        b.write(b.var("nr_cpu_ids", "unsigned int"), NR_CPUS.to_bytes(4, "little"))
        b.var("__cpu_possible_mask", "struct cpumask", **{"bits[0]": (1 << NR_CPUS) - 1})
        # per_cpu_ptr(p, cpu) = p + __per_cpu_offset[cpu]; per-CPU "pointers"
        # are small offsets into one area per CPU.
        self.percpu_areas = [b.alloc(0x1000, align=0x1000) for _ in range(NR_CPUS)]
        offsets = b.var("__per_cpu_offset", f"unsigned long [{NR_CPUS}]")
        for cpu, area in enumerate(self.percpu_areas):
            b.write_u64(offsets + 8 * cpu, area)
        self._percpu_next = 0x10
        uts = b.var("init_uts_ns", "struct uts_namespace")
        b.write(b.addr(uts, "struct uts_namespace", "name.release"),
                f"{self.era}.0-synthetic".encode())
        self.dfl_root = b.var("cgrp_dfl_root", "struct cgroup_root")
        if self.era != "4.9":
            self.slab_root_caches = b.var("slab_root_caches", "struct list_head")
            b.list_init(self.slab_root_caches)
        self.slab_caches = b.var("slab_caches", "struct list_head")
        b.list_init(self.slab_caches)
        self.nr_cache_ids = 4
        b.write(b.var("memcg_nr_cache_ids", "int"), self.nr_cache_ids.to_bytes(4, "little"))
        self.root_var = b.var("root_mem_cgroup", "struct mem_cgroup *")
        self.pfn_next = 1

    # -- per-CPU -----------------------------------------------------------------------
    def percpu_alloc(self, size: int, values: Sequence[bytes] = ()) -> int:
        """A per-CPU allocation; ``values[cpu]`` are its initial bytes on each CPU."""
        off = self._percpu_next
        self._percpu_next += (size + 15) & ~15
        for cpu, data in enumerate(values):
            self.b.write(self.percpu_areas[cpu] + off, data)
        return off

    # -- cgroups -------------------------------------------------------------------------
    def memcg(self, parent: Optional[int], name: str, *, serial: int, flags: int,
              refcnt: Tuple[int, int] = (0, 0), percpu: Sequence[int] = (),
              kmemcg_id: int = -1, kmem_state: int = 0, memcg_id: int = 0,
              id_ref: int = 0, usage: int = 0, cgroup_online: Optional[bool] = None) -> int:
        """
        A memcg with its cgroup and kernfs node. ``refcnt`` is (count,
        percpu_count_ptr flag bits); with ``percpu`` values it is in per-CPU
        mode (count includes the bias). Returns the memcg address.
        """
        b = self.b
        M = "struct mem_cgroup"
        memcg = b.alloc(self.memcg_size)
        cgrp = self.dfl_root if parent is None else b.new("struct cgroup")
        pn = b.new("struct mem_cgroup_per_node")
        for i in range(5):
            b.list_init(b.addr(pn, "struct mem_cgroup_per_node", f"lruvec.lists[{i}]"))
        count, bits = refcnt
        ptr = bits
        if percpu:
            ptr |= self.percpu_alloc(8, [v.to_bytes(8, "little") for v in percpu])
        elif parent is not None:
            # The per-CPU counters stay allocated until percpu_ref_exit()
            # (css_free); a killed ref has them folded into count.
            ptr |= self.percpu_alloc(8)
        fields = {
            "css.cgroup": cgrp, "css.refcnt.count.counter": count,
            "css.refcnt.percpu_count_ptr": ptr, "css.id": serial, "css.flags": flags,
            "css.serial_nr": serial, "css.parent": parent or 0,
            "id.id": memcg_id,
            ("id.ref.refs.counter" if self.era == "5.4" else "id.ref.counter"): id_ref,
            "kmemcg_id": kmemcg_id, "kmem_state": kmem_state,
            ("memory.count.counter" if self.era == "4.9" else "memory.usage.counter"): usage,
            "nodeinfo[0]": pn,
        }
        b.put(memcg, M, fields)
        b.list_init(b.addr(memcg, M, "css.children"))
        if self.era != "4.9":
            b.list_init(b.addr(memcg, M, "kmem_caches"))
        if parent is not None:
            b.list_add_tail(b.addr(memcg, M, "css.sibling"), b.addr(parent, M, "css.children"))
        # cgroup and kernfs node
        kn = b.new("struct kernfs_node")
        online = (flags & CSS_ONLINE) if cgroup_online is None else cgroup_online
        b.put(cgrp, "struct cgroup", {"self.flags": CSS_ONLINE if online else 0, "kn": kn,
                                      "root": self.dfl_root, "level": self._level(parent)})
        parent_kn = 0
        if parent is not None:
            parent_kn = b.field(parent, M, "css.cgroup").read_().kn.value_()
        b.put(kn, "struct kernfs_node", {"parent": parent_kn, "name": b.string(name)})
        b.put(kn, "struct kernfs_node", {"ino" if self.era == "4.9" else "id.id": 100 + serial})
        if parent is None:
            b.write_u64(self.root_var, memcg)
        return memcg

    def _level(self, parent: Optional[int]) -> int:
        if parent is None:
            return 0
        return self.b.field(parent, "struct mem_cgroup", "css.cgroup").read_().level.value_() + 1

    def stat(self, memcg: int, item: int, atomic: int, percpu: Sequence[int]) -> None:
        """4.19 stat[item] / 5.4 vmstats[item] and its per-CPU batch."""
        b = self.b
        names = ("stat", "stat_cpu", "count") if self.era == "4.19" else \
            ("vmstats", "vmstats_percpu", "stat")
        b.put(memcg, "struct mem_cgroup", {f"{names[0]}[{item}].counter": atomic})
        ptr = b.field(memcg, "struct mem_cgroup", names[1]).value_()
        if not ptr:
            ptr = self.percpu_alloc(64)
            b.put(memcg, "struct mem_cgroup", {names[1]: ptr})
        for cpu, v in enumerate(percpu):
            b.put(self.percpu_areas[cpu] + ptr, "struct mem_cgroup_stat_cpu",
                  {f"{names[2]}[{item}]": v})

    # -- the old IDR (4.9) ----------------------------------------------------------------
    def idr(self, name: str, entries: Dict[int, int]) -> None:
        """``struct idr name`` of one layer (ids < 256) holding ``entries``."""
        b = self.b
        layer = b.new("struct idr_layer", {"layer": 0, "count": len(entries)})
        for ident, ptr in entries.items():
            b.put(layer, "struct idr_layer", {f"ary[{ident}]": ptr})
        b.var(name, "struct idr", top=layer, layers=1)

    # -- files ----------------------------------------------------------------------------
    def file(self, path: str, fs: str = "ext4", ino: int = 12) -> int:
        """An inode with a dentry chain for ``path``; returns its address_space."""
        b = self.b
        fstype = b.new("struct file_system_type", {"name": b.string(fs)})
        sb = b.new("struct super_block", {"s_type": fstype})
        root = b.new("struct dentry")
        b.put(root, "struct dentry", {"d_parent": root, "d_name.name": b.string("/")})
        parent = root
        dentry = root
        for part in path.strip("/").split("/"):
            dentry = b.new("struct dentry", {"d_parent": parent, "d_name.name": b.string(part)})
            parent = dentry
        mapping = b.new("struct address_space")
        alias = b.addr(dentry, "struct dentry", "d_alias")
        inode = b.new("struct inode", {"i_sb": sb, "i_ino": ino, "i_mapping": mapping,
                                       "i_dentry.first": alias})
        b.put(dentry, "struct dentry", {"d_inode": inode})
        b.put(mapping, "struct address_space", {"host": inode})
        return mapping

    # -- pages ----------------------------------------------------------------------------
    def page(self, *, flags: Sequence[str] = (), mapping: int = 0, memcg: int = 0,
             mapcount: int = -1, refcount: int = 1, slab_cache: int = 0) -> int:
        """Fill the next struct page; returns its pfn."""
        pfn = self.pfn_next
        self.pfn_next += 1
        addr = VMEMMAP + pfn * 64
        f = 0
        for name in flags:
            f |= 1 << PG[name]
        fields = {"flags": f, "_mapcount.counter": mapcount, "_refcount.counter": refcount,
                  "mem_cgroup": memcg}
        if slab_cache:
            fields["slab_cache"] = slab_cache
        else:
            fields["mapping"] = mapping
        self.b.put(addr, "struct page", fields)
        return pfn

    def kmem_page_mapcount(self) -> int:
        """_mapcount of a PageKmemcg page: -512 (4.9), PG_kmemcg cleared (4.18+)."""
        return -512 if self.era == "4.9" else (0xFFFFFFFF & ~0x200) - (1 << 32)

    # -- kmem caches ------------------------------------------------------------------------
    def root_cache(self, name: str, object_size: int) -> int:
        b = self.b
        K = "struct kmem_cache"
        s = b.new(K, {"name": b.string(name), "object_size": object_size,
                      "size": object_size})
        b.list_add_tail(b.addr(s, K, "list"), self.slab_caches)
        arr = b.alloc(16 + 8 * self.nr_cache_ids)
        b.put(s, K, {"memcg_params.memcg_caches": arr})
        if self.era == "4.9":
            b.put(s, K, {"memcg_params.is_root_cache": 1})
            b.list_init(b.addr(s, K, "memcg_params.list"))
        else:
            b.list_init(b.addr(s, K, "memcg_params.children"))
            b.list_add_tail(b.addr(s, K, "memcg_params.__root_caches_node"),
                            self.slab_root_caches)
        return s

    def child_cache(self, root: int, memcg: int, *, serial: int, cgroup: str,
                    charged: Optional[int] = None, in_array: Optional[int] = None,
                    refcnt: Tuple[int, int] = (1, 0), percpu: Sequence[int] = ()) -> int:
        """
        A per-memcg copy of ``root`` created for ``memcg`` (named after its
        ``serial`` and ``cgroup`` name); ``charged`` is what memcg_params.memcg
        names now (default: ``memcg``), and it is linked on that memcg's
        kmem_caches list. ``in_array`` puts it in the root's memcg_caches at
        that index (an active, not deactivated, cache).
        """
        b = self.b
        K = "struct kmem_cache"
        rname = b.field(root, K, "name").string_().decode()
        size = b.field(root, K, "object_size").value_()
        charged = memcg if charged is None else charged
        s = b.new(K, {"name": b.string(f"{rname}({serial}:{cgroup})"), "object_size": size,
                      "size": size, "memcg_params.memcg": charged})
        b.list_add_tail(b.addr(s, K, "list"), self.slab_caches)
        if self.era == "4.9":
            b.put(s, K, {"memcg_params.root_cache": root})
            b.list_add_tail(b.addr(s, K, "memcg_params.list"),
                            b.addr(root, K, "memcg_params.list"))
        else:
            b.put(s, K, {"memcg_params.root_cache": root})
            b.list_add_tail(b.addr(s, K, "memcg_params.children_node"),
                            b.addr(root, K, "memcg_params.children"))
            b.list_add_tail(b.addr(s, K, "memcg_params.kmem_caches_node"),
                            b.addr(charged, "struct mem_cgroup", "kmem_caches"))
        if self.era == "5.4":
            count, bits = refcnt
            ptr = bits | self.percpu_alloc(8, [v.to_bytes(8, "little") for v in percpu])
            b.put(s, K, {"memcg_params.refcnt.count.counter": count,
                         "memcg_params.refcnt.percpu_count_ptr": ptr})
        if in_array is not None:
            arr = b.field(root, K, "memcg_params.memcg_caches").value_()
            b.write_u64(arr + 16 + 8 * in_array, s)
        return s
