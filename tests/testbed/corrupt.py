"""Damaged copies of test-bed vmcores for the bad-input tests.

Truncated copies are prefixes of the file. Corruptions are byte patches of an ELF copy:
kernel virtual addresses are found with drgn on the pristine dump and turned into file
offsets through the PT_LOAD table (the paging ELF maps one virtual range per segment;
virtual segments share their file bytes with the direct-map segment of the same
physical memory, so one patch changes every view of it).
"""

import os
import random
import shutil
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

#: LIST_POISON1 on x86_64 (0xdead000000000000 + 0x100): non-canonical, never mapped.
WILD_POINTER = 0xDEAD000000000100
#: Canonical, in the kernel half, not mapped by anything on these guests.
UNMAPPED_POINTER = 0xFFFFDEAD00000000


def copy_prefix(src, dst, length: Optional[int] = None):
    """Copy the first `length` bytes (default: all) of src to dst, in the kernel."""
    length = os.path.getsize(src) if length is None else length
    with open(src, "rb") as i, open(dst, "wb") as o:
        left = length
        while left:
            n = os.copy_file_range(i.fileno(), o.fileno(), left)
            if not n:
                break
            left -= n
    return Path(dst)


def elf_loads(path) -> List[Tuple[int, int, int, int]]:
    """PT_LOAD segments of an ELF64 core: (p_offset, p_vaddr, p_paddr, p_filesz)."""
    with open(path, "rb") as f:
        ehdr = f.read(64)
        (phoff,) = struct.unpack_from("<Q", ehdr, 0x20)
        phentsize, phnum = struct.unpack_from("<HH", ehdr, 0x36)
        f.seek(phoff)
        data = f.read(phentsize * phnum)
    loads = []
    for i in range(phnum):
        p_type, _, off, vaddr, paddr, filesz = struct.unpack_from("<IIQQQQ", data, i * phentsize)
        if p_type == 1:
            loads.append((off, vaddr, paddr, filesz))
    return loads


def vaddr_offset(loads, vaddr: int, length: int = 1) -> int:
    """File offset of kernel virtual address `vaddr` (the whole range must be in one
    segment)."""
    for off, start, _, size in loads:
        if start <= vaddr and vaddr + length <= start + size:
            return off + vaddr - start
    raise LookupError(f"{vaddr:#x}+{length} is in no PT_LOAD segment")


def patch(path, offset: int, data: bytes) -> bytes:
    """Write data at offset; return the bytes it replaced."""
    with open(path, "r+b") as f:
        f.seek(offset)
        old = f.read(len(data))
        f.seek(offset)
        f.write(data)
    return old


@dataclass
class Targets:
    """Where to damage one dump, found on the pristine copy."""

    #: css of a memcg whose children list is long (the bulk scenario's parent).
    parent_css: int
    #: &child->sibling of its first children, in list order.
    siblings: List[int]
    #: memmap range to overwrite: (virtual address, length).
    memmap: Tuple[int, int]
    #: A slab with an objcg vector: &slab->memcg_data (or obj_exts), the vector's
    #: address and byte length; and a second slab's &memcg_data.
    slab_data: int
    vector: int
    vector_len: int
    slab_data2: int
    info: Dict[str, object] = field(default_factory=dict)


def find_targets(vmcore, vmlinux) -> Targets:
    """Run drgn (either generation) on the pristine dump to find what to damage."""
    import drgn
    from drgn import Object, container_of

    from memcg_zombies.cgroups import css_state, for_each_memcg, memcg_path

    prog = drgn.Program()
    prog.set_core_dump(str(vmcore))
    try:
        prog.load_debug_info([str(vmlinux)])
    except drgn.MissingDebugInfoError:
        pass

    # A memcg with at least 3 children, preferably one of them dying (the bulk
    # scenario's parent where its zombies stay), and up to 8 of them.
    best = None
    for m in for_each_memcg(prog):
        head = m.css.children.address_of_().value_()
        siblings, dying, pos = [], False, m.css.children.next.value_()
        while pos != head and len(siblings) < 8:
            siblings.append(pos)
            child = container_of(Object(prog, "struct list_head *", pos),
                                 "struct cgroup_subsys_state", "sibling")
            dying |= css_state(child) == "dying"
            pos = Object(prog, "struct list_head *", pos).next.value_()
        rank = (len(siblings) >= 3, dying, len(siblings))
        if best is None or rank > best[0]:
            best = (rank, m, siblings)
    assert best and len(best[2]) >= 3, "no memcg with 3 children"
    _, parent, siblings = best
    info = {"parent": memcg_path(parent)}

    page_size = prog.type("struct page").size
    vmemmap = prog["vmemmap"].value_()
    max_pfn = prog["max_pfn"].value_()
    # 1024 struct pages in the middle of memory (RAM with something in it).
    memmap = (vmemmap + (max_pfn // 2) * page_size, 1024 * page_size)

    # Slabs with an objcg vector: read the memmap in bulk, keep pages whose
    # slab_cache is a kmem_cache and whose memcg_data has its low (vector) bit set.
    slab_t = prog.type("struct slab")
    data_member = "obj_exts" if any(m.name == "obj_exts" for m in slab_t.members) else "memcg_data"
    off_cache = drgn.offsetof(slab_t, "slab_cache")
    off_data = drgn.offsetof(slab_t, data_member)
    caches = set()
    for s in _list(prog, prog["slab_caches"].address_of_(), "struct kmem_cache", "list"):
        caches.add(s)
    try:
        ext_size = prog.type("struct slabobj_ext").size
    except LookupError:
        ext_size = prog.type("struct obj_cgroup *").size
    found = []
    chunk = 1 << 20
    for base in range(vmemmap, vmemmap + max_pfn * page_size, chunk):
        try:
            buf = prog.read(base, chunk)
        except drgn.FaultError:
            continue
        for o in range(0, chunk, page_size):
            cache, data = (struct.unpack_from("<Q", buf, o + off_cache)[0],
                           struct.unpack_from("<Q", buf, o + off_data)[0])
            if cache in caches and data & 1 and data & ~7:
                found.append((base + o, data & ~7))
        if len(found) >= 64:
            break
    assert len(found) >= 2, "no slab with an objcg vector"
    rng = random.Random(1)
    slab_addr, vector = found[rng.randrange(len(found) // 2)]
    slab = Object(prog, "struct slab *", slab_addr)
    vector_len = slab.objects.value_() * ext_size
    slab2 = found[-1][0]
    return Targets(
        parent_css=parent.css.address_of_().value_(), siblings=siblings, memmap=memmap,
        slab_data=slab_addr + off_data, vector=vector, vector_len=vector_len,
        slab_data2=slab2 + off_data,
        info={**info, "slab_cache": slab.slab_cache.name.string_().decode(), "slabs": len(found),
              "data_member": data_member})


def _list(prog, head, type_name, member):
    from drgn import Object, container_of

    pos = head.next.value_()
    end = head.value_()
    for _ in range(100000):
        if pos == end:
            return
        yield container_of(Object(prog, "struct list_head *", pos), type_name, member).value_()
        pos = Object(prog, "struct list_head *", pos).next.value_()


def random_bytes(n: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(n)


def wild_vector(n: int, seed: int) -> bytes:
    """An objcg vector of n bytes: wild, unmapped, unaligned and self pointers."""
    rng = random.Random(seed)
    choices = [WILD_POINTER, UNMAPPED_POINTER, 0xFFFFFFFFFFFFFFFF, 0x1, 0x41414141]
    out = b"".join(struct.pack("<Q", (rng.choice(choices) + 8 * rng.randrange(16)) & (2**64 - 1))
                   for _ in range(n // 8))
    return out + b"\xff" * (n - len(out))


def remove(*paths):
    for p in paths:
        if p is None:
            continue
        p = Path(p)
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
