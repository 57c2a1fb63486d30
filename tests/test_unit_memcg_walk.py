"""
Unit tests for memcg_zombies.cgroups / percpu_ref / render without a vmcore:
the types come from a real debug vmlinux (skipped when none is cached), the
memory is synthetic, built here struct by struct.
"""

import glob
import json
import os

import pytest

drgn = pytest.importorskip("drgn")

from memcg_zombies import layout as layout_mod  # noqa: E402
from memcg_zombies.cgroups import (  # noqa: E402
    MemcgUnavailable,
    for_each_memcg,
    memcg_path,
    memcg_report,
)
from memcg_zombies.percpu_ref import percpu_ref_read  # noqa: E402
from memcg_zombies.render import render_json, render_text  # noqa: E402


def _vmlinuxes():
    base = os.environ.get("MZ_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
        "memcg-zombies",
    )
    return sorted(glob.glob(os.path.join(base, "kernels", "*", "vmlinux")))


VMLINUXES = _vmlinuxes()
pytestmark = pytest.mark.skipif(not VMLINUXES, reason="no cached debug vmlinux")

CSS_ONLINE, CSS_RELEASED, CSS_VISIBLE, CSS_DYING = 2, 4, 8, 0x10
PAGE = 4096
HEAP = 0xFFFF888000100000
HEAP_SIZE = 1 << 20
UNMAPPED = 0xFFFF888100000000


class FakeKernel:
    """Kernel types from a vmlinux, memory from this object."""

    def __init__(self, vmlinux):
        self.prog = prog = drgn.Program(drgn.host_platform)
        if hasattr(prog, "set_linux_kernel_custom"):
            # drgn 0.3 only loads a vmlinux into a kernel program; make one
            # whose memory is ours (the page table address is never used:
            # every read hits a segment added below).
            release = os.path.basename(os.path.dirname(vmlinux))
            prog.set_linux_kernel_custom(
                f"OSRELEASE={release}\nPAGESIZE=4096\nKERNELOFFSET=0\n"
                "SYMBOL(swapper_pg_dir)=ffffffff82000000\n",
                False,
            )
        prog.load_debug_info([vmlinux])
        self.heap = bytearray(HEAP_SIZE)
        self.brk = HEAP
        self.pages = {}  # sparse zero-filled kernel image
        prog.add_memory_segment(HEAP, HEAP_SIZE, self._read_heap)
        prog.add_memory_segment(0xFFFFFFFF80000000, 1 << 30, self._read_image)
        self.lay = layout_mod.layout(prog)
        self.cpus = 2
        self._init_globals()

    def _read_heap(self, address, count, offset, physical):
        return bytes(self.heap[offset:offset + count])

    def _read_image(self, address, count, offset, physical):
        out = bytearray()
        while count:
            page, off = divmod(address, PAGE)
            n = min(count, PAGE - off)
            out += self.pages.get(page, bytes(PAGE))[off:off + n]
            address += n
            count -= n
        return bytes(out)

    def poke(self, address, value, size=8):
        data = (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")
        if HEAP <= address < HEAP + HEAP_SIZE:
            self.heap[address - HEAP:address - HEAP + size] = data
            return
        for i, b in enumerate(data):
            page, off = divmod(address + i, PAGE)
            buf = self.pages.setdefault(page, bytearray(PAGE))
            buf[off] = b

    def off(self, type_name, member):
        return drgn.offsetof(self.prog.type(type_name), member)

    def alloc(self, size):
        addr = self.brk
        self.brk += (size + 63) & ~63
        return addr

    def sym(self, name):
        return self.prog[name].address_of_().value_()

    def _init_globals(self):
        for name in ("__cpu_possible_mask", "__cpu_online_mask", "__cpu_present_mask"):
            self.poke(self.sym(name), (1 << self.cpus) - 1)
        self.poke(self.sym("nr_cpu_ids"), self.cpus, 4)
        per_cpu_offset = self.sym("__per_cpu_offset")
        self.percpu_area = self.alloc(self.cpus * 0x1000)
        for cpu in range(self.cpus):
            # per_cpu_ptr(p, cpu) = p + __per_cpu_offset[cpu]; use p as a
            # small offset into the area.
            self.poke(per_cpu_offset + 8 * cpu, self.percpu_area + cpu * 0x1000)
        self.percpu_next = 0
        self.poke(self.sym("memory_cgrp_subsys_enabled_key"), 1, 4)

    def percpu_alloc(self):
        off = self.percpu_next
        self.percpu_next += 8
        return off

    def string(self, s):
        addr = self.alloc(len(s) + 1)
        self.heap[addr - HEAP:addr - HEAP + len(s)] = s.encode()
        return addr

    def list_init(self, head):
        self.poke(head, head)
        self.poke(head + 8, head)

    def list_add_tail(self, node, head):
        prev = int.from_bytes(self._read_any(head + 8, 8), "little")
        self.poke(node, head)
        self.poke(node + 8, prev)
        self.poke(prev, node)
        self.poke(head + 8, node)

    def _read_any(self, address, size):
        return self.prog.read(address, size)

    def memcg(self, parent, name, css_id, flags, ino, refmode="percpu", counts=(1, 0),
              nr_dying=0):
        """Create a memcg (and its cgroup and kernfs node) under ``parent``."""
        prog = self.prog
        memcg = self.alloc(prog.type("struct mem_cgroup").size)
        cgrp = self.alloc(prog.type("struct cgroup").size)
        kn = self.alloc(prog.type("struct kernfs_node").size)
        css = memcg + self.off("struct mem_cgroup", "css")
        M = lambda m: self.off("struct cgroup_subsys_state", m)  # noqa: E731

        self.poke(css + M("cgroup"), cgrp)
        self.poke(css + M("id"), css_id, 4)
        self.poke(css + M("flags"), flags, 4)
        self.list_init(css + M("children"))
        self.list_init(css + M("sibling"))
        if parent is not None:
            pcss = parent + self.off("struct mem_cgroup", "css")
            self.poke(css + M("parent"), pcss)
            self.list_add_tail(css + M("sibling"), pcss + M("children"))
            pkn = self.prog.read_u64(
                self.prog.read_u64(pcss + M("cgroup")) + self.off("struct cgroup", "kn"))
        else:
            pkn = 0

        # percpu_ref (v5.10+ layout: all cached test kernels have it)
        ref = css + M("refcnt")
        data = self.alloc(prog.type("struct percpu_ref_data").size)
        self.poke(ref + self.off("struct percpu_ref", "data"), data)
        count_off = self.off("struct percpu_ref_data", "count")
        pcpu = self.percpu_alloc()
        if refmode == "percpu":
            self.poke(ref, pcpu)
            self.poke(data + count_off, (1 << 63) + counts[0])
            for cpu, n in enumerate(counts[1:]):
                self.poke(self.percpu_area + cpu * 0x1000 + pcpu, n)
        elif refmode == "dead":
            self.poke(ref, pcpu | 3)
            self.poke(data + count_off, counts[0])

        self.poke(cgrp + self.off("struct cgroup", "kn"), kn)
        self.poke(cgrp + self.off("struct cgroup", "nr_dying_descendants"), nr_dying, 4)
        self.poke(cgrp + self.off("struct cgroup", "self.parent"),
                  0 if parent is None else 1, 8)  # only tested for non-NULL
        self.poke(kn + self.off("struct kernfs_node", self.lay.cgroup.kn_parent), pkn)
        self.poke(kn + self.off("struct kernfs_node", "name"), self.string(name))
        self.poke(kn + self.off("struct kernfs_node", "id"), ino)
        return memcg

    def css_field(self, memcg, member):
        return (memcg + self.off("struct mem_cgroup", "css")
                + self.off("struct cgroup_subsys_state", member))

    def set_root(self, memcg):
        self.poke(self.sym("root_mem_cgroup"), memcg)


# No vmlinux cached: Debian's pytest asks the ids of a NOTSET parameter (then skipped).
@pytest.fixture(params=VMLINUXES,
                ids=lambda p: os.path.basename(os.path.dirname(p)) if isinstance(p, str) else None)
def fk(request):
    return FakeKernel(request.param)


def build_tree(fk):
    root = fk.memcg(None, "", 1, CSS_ONLINE | CSS_VISIBLE, 1, nr_dying=2)
    a = fk.memcg(root, "a", 2, CSS_ONLINE | CSS_VISIBLE, 100, counts=(5, 3, 4), nr_dying=1)
    b = fk.memcg(a, "b", 3, CSS_DYING, 101, refmode="dead", counts=(1024,))
    c = fk.memcg(root, "c", 4, CSS_DYING, 102, refmode="dead", counts=(1,))
    fk.set_root(root)
    return root, a, b, c


def test_walk_finds_dying(fk):
    root, a, b, c = build_tree(fk)
    report = memcg_report(fk.prog)
    by_path = {m.path: m for m in report.memcgs}
    assert [m.path for m in report.memcgs] == ["/", "/a", "/a/b", "/c"]
    assert by_path["/a/b"].state == "dying"
    assert by_path["/a/b"].refcnt_dead is True
    assert by_path["/a/b"].refcnt == 1024
    assert by_path["/a/b"].cgroup_id == 101
    assert by_path["/a/b"].css_id == 3
    assert by_path["/a/b"].level == 2
    assert by_path["/a"].state == "online"
    assert by_path["/a"].refcnt_dead is False
    assert by_path["/a"].refcnt is None  # per-CPU mode is not summed here
    assert report.summary.online == 2
    assert report.summary.dying == 2
    assert report.summary.root_nr_dying_descendants == 2
    assert report.faults == []
    if fk.lay.cgroup.has_nr_dying_subsys:
        assert by_path["/"].nr_dying_subsys_memory == 0
    else:
        assert by_path["/"].nr_dying_subsys_memory is None
    doc = json.loads(render_json(report))
    assert doc["schema"] == "memcg-zombies/2"
    assert {m["cgroup_id"] for m in doc["memcgs"] if m["state"] == "dying"} == {101, 102}
    text = render_text(report)
    assert "/a/b" in text and "2 dying" in text


def test_percpu_sum(fk):
    root, a, b, c = build_tree(fk)
    ref = drgn.Object(fk.prog, "struct mem_cgroup *", a).css.refcnt
    r = percpu_ref_read(ref)
    assert (r.count, r.atomic, r.dead, r.mode) == (12, False, False, "percpu")
    r = percpu_ref_read(drgn.Object(fk.prog, "struct mem_cgroup *", c).css.refcnt)
    assert (r.count, r.dead, r.mode) == (1, True, "atomic")


def test_sibling_cycle_is_a_fault(fk):
    root, a, b, c = build_tree(fk)
    # /a's sibling.next loops back to itself instead of going on to /c.
    sib = fk.css_field(a, "sibling")
    fk.poke(sib, sib)
    report = memcg_report(fk.prog)
    # /c is recovered walking back from the head through ->prev.
    assert [m.path for m in report.memcgs] == ["/", "/a", "/a/b", "/c"]
    assert any("cycle" in f.error for f in report.faults)
    assert report.summary.faults == len(report.faults)


def test_unreadable_next_is_a_fault(fk):
    root, a, b, c = build_tree(fk)
    fk.poke(fk.css_field(a, "sibling"), UNMAPPED)
    report = memcg_report(fk.prog)
    assert [m.path for m in report.memcgs] == ["/", "/a", "/a/b", "/c"]
    assert len(report.faults) == 1


def test_both_directions_broken(fk):
    root, a, b, c = build_tree(fk)
    fk.poke(fk.css_field(a, "sibling"), UNMAPPED)  # a->next
    fk.poke(fk.css_field(c, "sibling") + 8, UNMAPPED)  # c->prev
    report = memcg_report(fk.prog)
    assert [m.path for m in report.memcgs] == ["/", "/a", "/a/b", "/c"]
    fk.poke(fk.css_field(root, "children") + 8, UNMAPPED)  # head->prev
    report = memcg_report(fk.prog)
    assert [m.path for m in report.memcgs] == ["/", "/a", "/a/b"]
    assert len(report.faults) == 1


def test_unreadable_kernfs_keeps_entry(fk):
    root, a, b, c = build_tree(fk)
    cgrp = fk.prog.read_u64(fk.css_field(c, "cgroup"))
    fk.poke(cgrp + fk.off("struct cgroup", "kn"), UNMAPPED)
    report = memcg_report(fk.prog)
    m = report.memcgs[-1]
    assert m.state == "dying" and m.path is None and m.cgroup_id is None
    assert report.faults


def test_walk_bound(fk):
    root, a, b, c = build_tree(fk)
    assert len(list(for_each_memcg(fk.prog, [], max_memcgs=2))) == 3  # root + 2


def test_no_root_mem_cgroup(fk):
    with pytest.raises(MemcgUnavailable):
        memcg_report(fk.prog)  # root_mem_cgroup left NULL


def test_memcg_disabled(fk):
    build_tree(fk)
    fk.poke(fk.sym("memory_cgrp_subsys_enabled_key"), 0, 4)
    with pytest.raises(MemcgUnavailable):
        memcg_report(fk.prog)


def test_path_of_removed_node(fk):
    root, a, b, c = build_tree(fk)
    # rmdir unlinks the kernfs node from the rbtree only; the parent pointer
    # and name stay, which is all memcg_path() uses.
    assert memcg_path(drgn.Object(fk.prog, "struct mem_cgroup *", b)) == "/a/b"
