"""
Pages charged to a zombie
-------------------------

Page cache (one pin per file), shmem/tmpfs (per file), anonymous memory, swap
cache and non-slab kernel pages, from one scan of the memmap
(:mod:`memcg_zombies.scan`), shared with :mod:`memcg_zombies.pinners.slab`.

A page names its owner in ``memcg_data`` (``mem_cgroup`` before v5.11): a memcg,
or an objcg for kmem pages since v5.14 and for every folio since v7.1. An objcg
pins a zombie only while ``objcg->memcg`` is the zombie; after reparenting it
names an ancestor, and its pages are reported as ``reparented`` (no css ref) when the original owner is known (``orig_objcg``, v6.8+). css references per
era come from :class:`memcg_zombies.layout.Layout` (``lru_css_ref_unit``,
``kmem_css_refs_per_page``, ``slab_css_refs_per_page``). Up to v5.2 slab pages
of per-memcg caches name their memcg too and are reported as one "slab" pin
in pages.
"""

from typing import Dict, Iterator, List, Optional, Set, Tuple

from drgn import FaultError, Object, container_of

from memcg_zombies.helpers import mm
from memcg_zombies.helpers.lists import list_nodes
from memcg_zombies.pinners import Context, Pin, pinner
from memcg_zombies.faults import warn_on_fault
from memcg_zombies.helpers.rmap import anon_vma_owners
from memcg_zombies.report import FileRef, PagePin, Process, Reparented
from memcg_zombies.scan import PageScan, scan_pages
from memcg_zombies.helpers.vfs import file_name

__all__ = ("page_scan", "objcg_owners", "owner_of", "inode_path")

#: Bound on objcg_list steps per list: a dying memcg's head is stale on
#: v6.1/v6.12 (reference §9), so no walk may trust it to come back.
_MAX_LIST = 100000

_KIND = {"file": "pagecache", "shmem": "shmem", "anon": "anon", "swapcache": "swapcache",
         "kmem": "kmem"}
_LABEL = {"anon": "anonymous memory", "swapcache": "swap cache",
          "kmem": "kernel pages (vmalloc, stacks, page tables, pipes)"}


def _read_objcg_memcg(prog, objcg: int) -> int:
    return Object(prog, "struct obj_cgroup *", objcg).memcg.value_()


def _objcg_list(ctx: Context, head: Object, owner: int, found: Dict[int, Tuple[int, int]],
                where: str) -> None:
    # Reparented objcgs of dead descendants sit on the nearest live
    # ancestor's list with ->memcg == that ancestor; entries naming another
    # memcg come from a stale head and are not this list's.
    prog = ctx.prog
    # A stale or broken list ends quietly: what was found so far stands.
    for pos in list_nodes(head, where, _MAX_LIST):
        try:
            objcg = container_of(Object(prog, "struct list_head *", pos),
                                 "struct obj_cgroup", "list")
            memcg = objcg.memcg.value_()
        except FaultError:
            return
        if memcg == owner:
            found.setdefault(objcg.value_(), (memcg, 0))


def _compute_objcg_owners(ctx: Context) -> Dict[int, Tuple[int, int]]:
    prog = ctx.prog
    found: Dict[int, Tuple[int, int]] = {}
    lay = ctx.layout
    # memcg->objcg (v5.9, bf4f059954dc), memcg->orig_objcg (v6.8,
    # 675d6c9b59e3), both per node in mem_cgroup_per_node since v7.1
    # (layout.reparent.objcg, .orig_objcg, .objcg_list).
    held = ["objcg"] + (["orig_objcg"] if lay.reparent.orig_objcg else [])
    fields = held if lay.reparent.objcg == "memcg" else []
    node_fields = held if lay.reparent.objcg == "per_node" else []
    has_list = lay.reparent.objcg_list == "memcg"
    node_list = lay.reparent.objcg_list == "per_node"
    if not (fields or node_fields):
        return found  # before v5.9: no objcgs
    try:
        nr_nodes = prog["nr_node_ids"].value_()
    except (LookupError, FaultError):
        nr_nodes = 1
    for addr, memcg in ctx.memcgs.items():
        where = f"objcgs of memcg {addr:#x}"
        try:
            nodes = ([memcg.nodeinfo[n].read_() for n in range(nr_nodes)]
                     if node_fields or node_list else [])
            pairs = [(memcg, f) for f in fields] + [(pn, f) for pn in nodes for f in node_fields]
            for holder, f in pairs:
                objcg = getattr(holder, f).value_()
                if objcg:
                    found[objcg] = (_read_objcg_memcg(prog, objcg), addr)
            # Offlining splices a memcg's objcg_list into its parent's and
            # (v5.15+) leaves the head stale, so only online lists are walked.
            if memcg.css.flags.value_() & ctx.layout.cgroup.CSS_ONLINE:
                if has_list:
                    _objcg_list(ctx, memcg.objcg_list, addr, found, where)
                for pn in nodes if node_list else ():
                    _objcg_list(ctx, pn.objcg_list, addr, found, where)
        except FaultError as e:
            ctx.fault(where, e, addr)
    return found


def objcg_owners(ctx: Context) -> Dict[int, Tuple[int, int]]:
    """
    objcg address -> (memcg it charges now, memcg it was created for or 0),
    over every memcg, dying ones included.
    """
    return ctx.cached("objcg_owners", lambda: _compute_objcg_owners(ctx))


def _compute_scan(ctx: Context) -> Optional[PageScan]:
    interest = set(ctx.zombies)
    for objcg, (now, orig) in objcg_owners(ctx).items():
        if now in ctx.zombies or orig in ctx.zombies:
            interest.add(objcg)
    try:
        scan = scan_pages(ctx.prog, interest, ctx.scan_options)
    except ValueError as e:
        ctx.fault("page scan", e)
        return None
    ctx.page_scan = scan
    for start, end, error in scan.read_errors:
        ctx.fault(f"memmap pfns {start:#x}-{end:#x}", error)
    for where, error, address in scan.faults:
        ctx.fault(where, error, address)
    return scan


def page_scan(ctx: Context) -> Optional[PageScan]:
    """The memmap scan for ``ctx.zombies`` (once per context), or None."""
    return ctx.cached("pagescan", lambda: _compute_scan(ctx))


def owner_of(ctx: Context, owner: int) -> Optional[Tuple[int, bool, str]]:
    """
    Which zombie a page/object owner address belongs to: (zombie, pins, via)
    with via "memcg" or "objcg", and pins False when the objcg has been
    reparented away from the zombie. None when it is no zombie's.
    """
    if owner in ctx.zombies:
        return owner, True, "memcg"
    objcgs = objcg_owners(ctx)
    entry = objcgs.get(owner)
    if entry is None and owner not in ctx.memcgs:
        # An objcg not reachable from any memcg (its creator was freed).
        try:
            entry = (_read_objcg_memcg(ctx.prog, owner), 0)
        except FaultError:
            entry = (0, 0)
        objcgs[owner] = entry
    if entry is None:
        return None
    now, orig = entry
    if now in ctx.zombies:
        return now, True, "objcg"
    if orig in ctx.zombies:
        return orig, False, "objcg"
    return None


def inode_path(inode: Object) -> Optional[str]:
    """Path of an inode within its filesystem, from its first dentry alias."""
    return file_name(inode).path


def _file_of(ctx: Context, mapping: int) -> Tuple[str, Optional[FileRef]]:
    try:
        host = Object(ctx.prog, "struct address_space *", mapping).host.read_()
        fs = host.i_sb.s_type.name.string_().decode(errors="replace")
        ino = host.i_ino.value_()
        name = file_name(host)
    except FaultError as e:
        ctx.fault(f"address_space {mapping:#x}", e, mapping)
        return f"address_space {mapping:#x}", None
    label = name.label if name.path is not None else f"<unlinked inode {ino}>"
    return f"{label} ({fs})", FileRef(hex(host.value_()), ino, fs, name.path,
                                      name.full_path, name.device)


def _css_refs(ctx: Context, cls: str, via: str, pages: int, folios: int) -> int:
    lay = ctx.layout
    if via != "memcg":
        return 0  # an objcg reference, not a css one
    if cls == "kmem":
        return pages * lay.charge.kmem_css_refs_per_page
    unit = lay.charge.lru_css_ref_unit
    return folios if unit == "folio" else pages if unit == "page" else 0


def _reparented(ctx: Context, owner: int, pin: PagePin) -> PagePin:
    # Charged to the zombie once; its objcg now charges an ancestor, so
    # these pages keep the ancestor's counters up, not the zombie alive.
    now = objcg_owners(ctx).get(owner, (0, 0))[0]
    pin.reparented = Reparented(hex(now) if now else None, pin.bytes)
    pin.what += " [reparented]"
    pin.bytes = 0
    pin.css_refs = 0
    return pin


def _pins_of(ctx: Context, scan: PageScan, owner: int, cls: str, pages: int,
             pins: bool, via: str, page_size: int) -> Iterator[PagePin]:
    folios = scan.folios_by_owner.get((owner, cls), 0)
    rest, rest_folios = pages, folios
    if cls in ("file", "shmem"):
        for mapping, c in sorted(scan.by_mapping.get(owner, {}).items(),
                                 key=lambda kv: -kv[1].pages):
            if scan.mapping_class.get(mapping) != cls:
                continue
            what, file = _file_of(ctx, mapping)
            rest -= c.pages
            rest_folios -= c.folios
            pin = PagePin(_KIND[cls], what, c.pages, "pages", c.pages * page_size,
                          _css_refs(ctx, cls, via, c.pages, c.folios), charged_via=via,
                          owner=hex(owner), mapping=hex(mapping), file=file, dirty=c.dirty,
                          writeback=c.writeback, folios=c.folios)
            yield pin if pins else _reparented(ctx, owner, pin)
    if rest > 0:
        what = _LABEL.get(cls, f"{cls} pages of unknown files")
        pin = PagePin(_KIND[cls], what, rest, "pages", rest * page_size,
                      _css_refs(ctx, cls, via, rest, rest_folios), charged_via=via,
                      owner=hex(owner), folios=rest_folios,
                      mapped_by=_mapped_by(ctx, scan, owner) if cls == "anon" else None)
        yield pin if pins else _reparented(ctx, owner, pin)


#: anon_vmas looked at per owner: the processes of the largest ones are the answer.
_MAX_ANON_VMAS = 64


def _mapped_by(ctx: Context, scan: PageScan, owner: int) -> List[Process]:
    """The processes mapping the owner's anonymous pages, from the anon_vmas the scan
    counted them under (the largest first, bounded)."""
    anon = sorted(((c.pages, m) for m, c in scan.by_mapping.get(owner, {}).items()
                   if scan.mapping_class.get(m) == "anon"), reverse=True)
    found: Set[Process] = set()
    for _, mapping in anon[:_MAX_ANON_VMAS]:
        with warn_on_fault(ctx.faults, f"anon_vma {mapping:#x}", mapping):
            found.update(Process(pid, comm) for pid, comm in anon_vma_owners(ctx.prog, mapping))
    return sorted(found)


@pinner("pages")
def visit(ctx: Context) -> Iterator[Tuple[int, Pin]]:
    scan = page_scan(ctx)
    if scan is None:
        return
    page_size = mm.page_size(ctx.prog)
    for (owner, cls), pages in sorted(scan.by_owner.items()):
        if owner and cls == "slab" and ctx.layout.charge.slab_page_names_memcg:
            # Up to v5.2 a slab page of a per-memcg cache names the memcg in
            # page->mem_cgroup and holds one css ref (layout/charge.py); from v5.3
            # it names none and its cache holds the ref (kmem_caches.py).
            if owner in ctx.zombies:
                folios = scan.folios_by_owner.get((owner, cls), 0)
                yield owner, PagePin("slab", "slab pages of per-memcg kmem caches", pages,
                                     "pages", pages * page_size,
                                     pages * ctx.layout.charge.slab_css_refs_per_page,
                                     charged_via="memcg", owner=hex(owner), folios=folios)
            continue
        if not owner or cls not in _KIND:
            continue
        who = owner_of(ctx, owner)
        if who is None:
            continue
        zombie, pins, via = who
        for pin in _pins_of(ctx, scan, owner, cls, pages, pins, via, page_size):
            yield zombie, pin
