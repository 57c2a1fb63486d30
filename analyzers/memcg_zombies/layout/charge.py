"""How charged memory names its owner: which struct page / struct slab member
holds it, what it points at (memcg or objcg) per kind of page, and the css
references each charged thing holds. The numbers the page scan parses with
are in :mod:`memcg_zombies.layout.pages`."""

from dataclasses import dataclass
from typing import Dict, Literal, Mapping, Optional

from drgn import Program

from memcg_zombies.layout.probe import find_type, has_member

PageMemcg = Literal["memcg_data", "mem_cgroup"]
Compound = Literal["compound_info", "compound_head"]
PageTypeEncoding = Literal["top_byte", "inverted", "mapcount"]
SlabVector = Literal["obj_exts", "memcg_data", "obj_cgroups", "mem_cgroup"]


@dataclass(frozen=True)
class ChargeLayout:
    #: struct page's memcg member; None without CONFIG_MEMCG.
    page_memcg: Optional[PageMemcg]
    #: struct page's compound-head member of a tail page.
    compound_member: Optional[Compound]
    #: enum pageflags, name -> bit.
    PG: Mapping[str, int]
    #: How PageBuddy/PageSlab/... are told: see :func:`charge_layout`.
    page_type_encoding: PageTypeEncoding
    #: Page type name -> PGTY_ value (top_byte) or cleared bit (inverted, mapcount).
    page_types: Mapping[str, int]
    #: Who a charged LRU folio / kmem page names: an objcg (else a memcg).
    folio_memcg_is_objcg: bool
    kmem_memcg_is_objcg: bool
    #: struct obj_cgroup exists (per-object slab accounting).
    has_objcg: bool
    #: css references: per LRU "folio" or "page" (None: folios hold an objcg).
    lru_css_ref_unit: Optional[Literal["folio", "page"]]
    kmem_css_refs_per_page: int
    slab_css_refs_per_object: Optional[int]
    slab_page_names_memcg: bool
    slab_css_refs_per_page: int
    #: css refs a per-memcg kmem cache holds (None: no per-memcg caches).
    kmem_cache_css_refs: Optional[int]
    #: The type slab pages are seen as, and its object-vector member.
    slab_struct: Literal["slab", "page"]
    slab_vector: Optional[SlabVector]


def charge_layout(prog: Program) -> ChargeLayout:
    # page->mem_cgroup became page->memcg_data in v5.11, bcfe06bf2622
    # ("mm: memcontrol: Use helpers to read page's memcg data").
    page_memcg: Optional[PageMemcg] = (
        "memcg_data" if has_member(prog, "struct page", "memcg_data")
        else "mem_cgroup" if has_member(prog, "struct page", "mem_cgroup") else None)
    # compound_head was renamed compound_info in v7.1, d50569612c29 ("mm:
    # rename the 'compound_head' field in the 'struct page' to
    # 'compound_info'"); see pages.py for what a tail's word then encodes.
    compound: Optional[Compound] = (
        "compound_info" if has_member(prog, "struct page", "compound_info")
        else "compound_head" if has_member(prog, "struct page", "compound_head") else None)

    # Page flag bits move between versions: read enum pageflags.
    pg: Dict[str, int] = {}
    pf = find_type(prog, "enum pageflags")
    for e in (pf.enumerators or () if pf is not None else ()):
        pg.setdefault(e.name, e.value)

    # page_type (the _mapcount word): v6.12's 4ffca5a96678 ("mm: support
    # only one page_type per page") stores the type in the top byte (enum
    # pagetype PGTY_*); before, from v4.18's 6e292b9be7f4 ("mm: split
    # page_type out of _mapcount"), types are cleared bits under
    # PAGE_TYPE_BASE 0xf0000000 (#defines, not in debug info).
    page_t = find_type(prog, "struct page")
    encoding: PageTypeEncoding
    pgty = find_type(prog, "enum pagetype")
    if pgty is not None:
        encoding = "top_byte"
        page_types = {e.name[len("PGTY_"):]: e.value for e in pgty.enumerators or ()}
    else:
        encoding = "inverted"
        # PG_buddy 0x80 and PG_offline 0x100 since v5.0; PG_kmemcg 0x200
        # from v4.18 until v5.11 (bcfe06bf2622 dropped it with memcg_data);
        # PG_slab 0x1000 in v6.10-v6.11 (46df8e73a4a3 "mm: free up PG_slab").
        page_types = {"buddy": 0x80, "offline": 0x100}
        if page_memcg == "mem_cgroup":
            page_types["kmemcg"] = 0x200
        if "PG_slab" not in pg:
            page_types["slab"] = 0x1000
        if page_t is not None and not page_t.has_member("page_type") \
                and page_t.has_member("_mapcount"):
            # Before v4.18 (6e292b9be7f4) there is no page_type: PageBuddy
            # and PageKmemcg compare _mapcount with PAGE_*_MAPCOUNT_VALUE
            # (checked 4.9: buddy -128, balloon -256, kmemcg -512). Of
            # those only -512 (0xfffffe00) has bit 8 clear under the set
            # top nibble, so the inverted test with 0x100 is exact for
            # kmemcg; buddy pages are told by their zero refcount instead.
            encoding = "mapcount"
            page_types = {"kmemcg": 0x100}

    # Who a charged folio names. v7.1's LRU reparenting series made every
    # folio hold an objcg (obj_cgroup::is_root and the per-node objcg in
    # mem_cgroup_per_node appeared with it); before, a mem_cgroup pointer.
    folio_objcg = (has_member(prog, "struct obj_cgroup", "is_root")
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
    kmem_objcg = page_memcg == "memcg_data" and uncharge_pages
    # Slab objects are charged per object to an objcg since v5.9,
    # bf4f059954dc ("mm: memcg/slab: obj_cgroup API").
    has_objcg = find_type(prog, "struct obj_cgroup") is not None

    # Slab pages of per-memcg caches (docs/kernel-eras.md section 3): up to v5.2
    # memcg_charge_slab() sets page->mem_cgroup on the slab page and
    # try_charge() holds one css ref per page (checked 4.9, 4.19). v5.3's
    # 4d96ba353075 ("mm: memcg/slab: stop setting page->mem_cgroup pointer
    # for slab pages") moved those refs onto the cache's memcg_params.refcnt
    # (percpu_ref, added by the same series), and the cache holds one css ref
    # instead (see pinners/kmem_caches.py). memcg_params without refcnt: era A.
    kmem_cache_t = find_type(prog, "struct kmem_cache")
    params_t = (kmem_cache_t.member("memcg_params").type
                if kmem_cache_t is not None and kmem_cache_t.has_member("memcg_params")
                else None)
    slab_page_names_memcg = (params_t is not None and page_memcg == "mem_cgroup"
                             and not params_t.has_member("refcnt"))

    # Slab containers. struct slab overlays struct page since v5.17,
    # d122019bf061 ("mm: Split slab into its own type"); it names the
    # vector memcg_data until v6.10 (obj_exts, 21c690a349ba "mm: introduce
    # slabobj_ext to support slab object extensions").
    slab_t = find_type(prog, "struct slab")
    st = slab_t if slab_t is not None else page_t
    slab_vector: Optional[SlabVector] = None
    for m in ("obj_exts", "memcg_data", "obj_cgroups", "mem_cgroup"):
        if st is not None and st.has_member(m):
            slab_vector = m
            break

    return ChargeLayout(
        page_memcg=page_memcg,
        compound_member=compound,
        PG=pg,
        page_type_encoding=encoding,
        page_types=page_types,
        folio_memcg_is_objcg=folio_objcg,
        kmem_memcg_is_objcg=kmem_objcg,
        has_objcg=has_objcg,
        # LRU folios: v5.9's 1a3e1f40962c ("mm: memcontrol: decouple reference
        # counting from page accounting") takes one css_get per folio; before,
        # css_get_many per charge batch, one per page. v7.1 folios hold only
        # an objcg.
        lru_css_ref_unit=(None if folio_objcg else "folio" if has_objcg else "page"),
        # Kmem pages: one css ref per page while they name a memcg (<=v5.13).
        kmem_css_refs_per_page=0 if kmem_objcg else 1,
        # Slab objects: objcg refs only (v5.9+); before, per-memcg caches.
        slab_css_refs_per_object=0 if has_objcg else None,
        slab_page_names_memcg=slab_page_names_memcg,
        slab_css_refs_per_page=1 if slab_page_names_memcg else 0,
        # A per-memcg cache itself: one css ref from memcg_link_cache()
        # (css_get) from v5.3 until v5.9 removed per-memcg caches; moved to
        # the parent by memcg_deactivate_kmem_caches() (v5.3, fb2f2b0adb98
        # "mm: memcg/slab: reparent memcg kmem_caches on cgroup removal").
        kmem_cache_css_refs=(None if params_t is None
                             else 1 if params_t.has_member("refcnt") else 0),
        slab_struct="slab" if slab_t is not None else "page",
        slab_vector=slab_vector,
    )
