"""
What holds a dying memcg, as typed pins
---------------------------------------

One class per kind of referrer that :mod:`memcg_zombies.pinners` finds. The
common part (kind, label, count, memory, css refs) is :class:`Pin`; each kind adds
the facts that identify its referrer (the file, the socket, the cache...), which
``to_dict()`` writes as the JSON pin's ``detail`` object, in a fixed key order.
"""

from dataclasses import dataclass, field
from typing import Any, ClassVar, Dict, List, Optional, Union

__all__ = ("Pin", "Reparented", "ReparentablePin", "FileRef", "PagePin", "SlabPin", "KmemCachePin",
           "CacheRefcnt", "Holder", "Process", "SocketPin", "SwapPin", "WritebackPin", "StockSlot",
           "StockPin", "ChildPin", "BpfPin")

@dataclass
class Reparented:
    """A pin charged to the zombie once, whose charge an ancestor now carries (the
    objcg or the cache was reparented): it holds neither css refs nor memory of the
    zombie's, and is listed for what it still says about the zombie."""

    #: The memcg(s) now charged, hex; None where not known.
    to: Union[None, str, List[str]]
    #: The bytes it keeps allocated (charged to ``to``).
    held_bytes: int


@dataclass
class Pin:
    """One kind of thing holding a memcg, aggregated (e.g. all shmem pages of a file)."""

    #: "pagecache", "shmem", "anon", "swapcache", "kmem", "slab", "swap", "socket",
    #: "cgwb", "stock", "bpf_map", "child", "kmem_cache".
    kind: str
    #: Short human label: "/tmpfs-cache.bin (tmpfs)", "dentry", "TCP 127.0.0.1:7777".
    what: str
    #: How many pages, objects, entries or references.
    count: int
    #: "pages", "objects", "entries" or "refs".
    unit: str
    #: Memory this pin keeps allocated, in bytes (0 if it holds none itself).
    bytes: int = 0
    #: css references this pin accounts for on this kernel (see the era rules in
    #: the layout); 0 for pins that hold only an objcg or a memcg id.
    css_refs: int = 0

    #: Swap entries, counted apart from RAM.
    on_swap: ClassVar[bool] = False

    def facts(self) -> Dict[str, Any]:
        """This kind's facts, JSON-able, in the report's key order."""
        return {}

    @property
    def detail(self) -> Dict[str, Any]:
        """The JSON pin's ``detail`` object."""
        return self.facts()

    def to_dict(self) -> Dict[str, Any]:
        return {"kind": self.kind, "what": self.what, "count": self.count, "unit": self.unit,
                "bytes": self.bytes, "css_refs": self.css_refs, "detail": self.detail}


@dataclass
class ReparentablePin(Pin):
    """A pin of memory charged through an objcg or a cache, which the kernel may have
    handed to an ancestor at offline."""

    #: Set when the charge moved to an ancestor (then bytes and css_refs are 0).
    reparented: Optional[Reparented] = None

    #: The JSON name of ``reparented.held_bytes`` for this kind.
    _HELD_BYTES: ClassVar[str] = "bytes"

    @property
    def detail(self) -> Dict[str, Any]:
        d = self.facts()
        if self.reparented is not None:
            d.update({"pins": False, "reparented_to": self.reparented.to,
                      self._HELD_BYTES: self.reparented.held_bytes})
        return d


@dataclass
class FileRef:
    """The file a page-cache or shmem pin's pages belong to."""

    #: ``struct inode *``, hex.
    inode: str
    ino: int
    #: The filesystem type's name ("ext4", "tmpfs").
    fs: str
    #: The path within its filesystem; None when the inode has no dentry (unlinked).
    path: Optional[str]
    #: The path from the root mount namespace; None when no mount there reaches it.
    full_path: Optional[str] = None
    #: The filesystem's device (``sb->s_id``); None where unreadable.
    device: Optional[str] = None


@dataclass(frozen=True, order=True)
class Process:
    """A task that maps anonymous pages (the owner of the mm of a VMA that maps them)."""

    pid: int
    comm: str

    def __str__(self) -> str:
        return f"{self.comm} (pid {self.pid})"


@dataclass
class PagePin(ReparentablePin):
    """Pages charged to the memcg (page cache, shmem, anon, swap cache, kmem, and up to
    v5.2 slab pages): those of one file, or of one class without a file."""

    #: "memcg" (a css ref per page or folio, by era) or "objcg" (v5.9+ kmem, v7.1+ LRU).
    charged_via: str = "memcg"
    #: The memcg or obj_cgroup the pages name, hex.
    owner: str = ""
    #: ``struct address_space *`` (hex) of a per-file pin; None for the rest of a class.
    mapping: Optional[str] = None
    #: The mapping's file; None for the rest of a class or when the inode was unreadable.
    file: Optional[FileRef] = None
    #: Dirty and writeback pages of a per-file pin.
    dirty: Optional[int] = None
    writeback: Optional[int] = None
    folios: int = 0
    #: Anonymous pages: the processes whose VMAs map them (helpers/rmap.py); None
    #: for other classes.
    mapped_by: Optional[List[Process]] = None

    _HELD_BYTES: ClassVar[str] = "page_bytes"

    def facts(self) -> Dict[str, Any]:
        d: Dict[str, Any] = {}
        if self.file is not None:
            d.update(inode=self.file.inode, ino=self.file.ino, fs=self.file.fs,
                     path=self.file.path, full_path=self.file.full_path,
                     device=self.file.device)
        if self.mapping is not None:
            d["mapping"] = self.mapping
        d["charged_via"] = self.charged_via
        d["objcg" if self.charged_via == "objcg" else "memcg"] = self.owner
        if self.mapping is not None:
            d.update(dirty=self.dirty, writeback=self.writeback)
        d["folios"] = self.folios
        if self.mapped_by is not None:
            d["mapped_by"] = [{"pid": p.pid, "comm": p.comm} for p in self.mapped_by]
        return d


@dataclass
class SlabPin(ReparentablePin):
    """Slab objects of one cache charged through the memcg's objcgs (v5.9+)."""

    #: ``struct kmem_cache *``, hex.
    cache: str = ""
    object_size: int = 0
    #: The zombie's objcgs the objects name, hex, sorted.
    objcgs: List[str] = field(default_factory=list)

    _HELD_BYTES: ClassVar[str] = "object_bytes"

    def facts(self) -> Dict[str, Any]:
        return {"cache": self.cache, "object_size": self.object_size, "objcgs": self.objcgs}


@dataclass
class CacheRefcnt:
    """``memcg_params.refcnt`` of a per-memcg kmem cache (v4.20-v5.8)."""

    count: Optional[int]
    dead: Optional[bool]
    #: The refs that are slab pages: count less the initial ref while alive.
    slab_pages: Optional[int]


@dataclass
class KmemCachePin(ReparentablePin):
    """A per-memcg kmem cache (v4.x-v5.8), named after the memcg it was made for."""

    #: ``struct kmem_cache *`` and its root cache, hex.
    cache: str = ""
    #: The memcg it charges now, hex.
    memcg: str = ""
    root_cache: Optional[str] = None
    #: No longer in the root's memcg_caches array; None when the array was unreadable.
    deactivated: Optional[bool] = None
    #: None on kernels without the refcount, or when it was unreadable.
    refcnt: Optional[CacheRefcnt] = None

    _HELD_BYTES: ClassVar[str] = "slab_bytes"

    def facts(self) -> Dict[str, Any]:
        d: Dict[str, Any] = {"cache": self.cache, "memcg": self.memcg,
                             "root_cache": self.root_cache, "deactivated": self.deactivated}
        if self.refcnt is not None:
            d.update(refcnt=self.refcnt.count, refcnt_dead=self.refcnt.dead,
                     slab_pages=self.refcnt.slab_pages)
        return d


@dataclass
class Holder:
    """Who holds a socket open: a task's fd, and the socket inode's number."""

    pid: int
    comm: str
    fd: int
    ino: Optional[int] = None

    def __str__(self) -> str:
        return f"pid {self.pid} ({self.comm}) fd {self.fd}"


@dataclass
class SocketPin(Pin):
    """A socket charged to the memcg (``sk->sk_memcg``): one css ref."""

    #: ``struct sock *``, hex.
    sock: str = ""
    #: TCP state name; None for sockets found through a file.
    state: Optional[str] = None
    #: Its memory in bytes, each None where unreadable.
    forward_alloc: Optional[int] = None
    rmem_alloc: Optional[int] = None
    wmem_queued: Optional[int] = None
    #: The tasks' fds that hold it open.
    holders: List[Holder] = field(default_factory=list)

    @property
    def ino(self) -> Optional[int]:
        """The socket inode's number, when its holders agree on one."""
        inos = sorted({h.ino for h in self.holders if h.ino is not None})
        return inos[0] if len(inos) == 1 else None

    def facts(self) -> Dict[str, Any]:
        d: Dict[str, Any] = {"sock": self.sock}
        if self.state is not None:
            d["state"] = self.state
        for key in ("forward_alloc", "rmem_alloc", "wmem_queued"):
            if getattr(self, key) is not None:
                d[key] = getattr(self, key)
        if self.holders:
            d["holders"] = [str(h) for h in self.holders]
            if self.ino is not None:
                d["ino"] = self.ino
        return d


@dataclass
class SwapPin(Pin):
    """Swap entries that record the memcg's private id: one css ref for all of them
    (the id's ref), also when no entry was found."""

    memcg_id: int = 0
    #: ``memcg->id.ref``.
    id_ref: int = 0
    #: Swap device name -> entries.
    devices: Dict[str, int] = field(default_factory=dict)

    on_swap: ClassVar[bool] = True

    def facts(self) -> Dict[str, Any]:
        return {"memcg_id": self.memcg_id, "id_ref": self.id_ref, "devices": self.devices,
                "on_swap": self.on_swap}


@dataclass
class WritebackPin(Pin):
    """A cgroup writeback structure (``struct bdi_writeback``) of the memcg: one css ref."""

    #: ``struct bdi_writeback *``, hex, and its device's name.
    wb: str = ""
    bdi: str = ""
    #: ``WB_*`` state bits set, by name.
    state: List[str] = field(default_factory=list)
    #: On ``offline_cgwbs`` (v5.14+; None before).
    on_offline_cgwbs: Optional[bool] = None
    #: Inode list name -> inodes on it.
    inodes: Dict[str, int] = field(default_factory=dict)
    #: The blkcg css it pairs with, hex; None where unreadable.
    blkcg_css: Optional[str] = None

    def facts(self) -> Dict[str, Any]:
        d: Dict[str, Any] = {"wb": self.wb, "bdi": self.bdi, "state": self.state,
                             "on_offline_cgwbs": self.on_offline_cgwbs, "inodes": self.inodes}
        if self.blkcg_css is not None:
            d["blkcg_css"] = self.blkcg_css
        return d


@dataclass
class StockSlot:
    """One CPU's charge stock slot caching the memcg or one of its objcgs."""

    cpu: int
    #: "memcg" or "objcg".
    cached: str
    bytes: int


@dataclass
class StockPin(Pin):
    """Per-CPU charge stocks that still cache the memcg."""

    slots: List[StockSlot] = field(default_factory=list)

    def facts(self) -> Dict[str, Any]:
        return {"slots": [{"cpu": s.cpu, "cached": s.cached, "bytes": s.bytes}
                          for s in self.slots]}


@dataclass
class ChildPin(Pin):
    """A child memcg: each holds a css ref on its parent."""

    #: ``struct mem_cgroup *`` of the child, hex, and its state.
    memcg: str = ""
    state: Optional[str] = None

    def facts(self) -> Dict[str, Any]:
        return {"memcg": self.memcg, "state": self.state}


@dataclass
class BpfPin(Pin):
    """A BPF map charged to the memcg."""

    #: ``struct bpf_map *``, hex.
    map: str = ""
    #: "memcg" (a css ref) or "objcg".
    charged_via: str = ""

    def facts(self) -> Dict[str, Any]:
        return {"map": self.map, "charged_via": self.charged_via}
