"""What a report must say, given the guest's truth: shared by the vmcore and live tests."""

import re


def kver(case):
    """(major, minor) of the kernel a case booted. Tests know which kernel they ran
    and say which facts it must show; the tool itself never reads a version."""
    return tuple(int(x) for x in re.match(r"(\d+)\.(\d+)", case["release"]).groups())


def _by_id(report):
    return {m["cgroup_id"]: m for m in report["memcgs"] if m["cgroup_id"] is not None}


def check_dying_set(truth, report, scen, complete=True):
    """The dying memcgs of scenario `scen` are exactly those the guest saw dying; freed
    ones are gone; live ones are online with their path. An incomplete report (a
    filtered dump) may miss memcgs but must not contradict the truth."""
    memcgs = _by_id(report)
    cgs = [c for c in truth["cgroups"].values() if c["scenario"] == scen]
    assert cgs, f"truth has no cgroups for {scen}"
    reported_dying = {m["cgroup_id"] for m in report["memcgs"]
                      if m["state"] == "dying" and (m["path"] or "").startswith(f"/mz/{scen}")}
    expect_dying = {c["cgroup_id"] for c in cgs if c.get("dying")}
    undecided = {c["cgroup_id"] for c in cgs if "dying" in c and c["dying"] is None}
    if not complete:
        assert reported_dying - undecided <= expect_dying
        return
    assert reported_dying - undecided == expect_dying
    for c in cgs:
        m = memcgs.get(c["cgroup_id"])
        if c.get("dying") is False:
            # Freed after rmdir: gone from the tree, or at most released.
            assert m is None or m["state"] == "released", (c["path"], m)
        elif c.get("memcg_killed") and c.get("dying") is None:
            # memory removed from subtree_control on a kernel without
            # nr_dying_subsys: the guest cannot tell dying from freed; never online.
            assert m is None or m["state"] != "online", (c["path"], m)
        elif c.get("alive") and c.get("memory_css_online"):
            assert m is not None and m["state"] == "online", c["path"]
            assert m["path"] == c["path"]
        if c.get("dying"):
            # The path survives kernfs removal.
            assert memcgs[c["cgroup_id"]]["path"] == c["path"]


def swap_window(cg):
    """Pages the guest saw still resident (memory.stat anon) when it read
    memory.swap.current. They can still be swapped out under the cgroup's own id,
    after rmdir too: a swap-out records the nearest memcg whose id is still
    referenced (mem_cgroup_id_get_online: id.ref, not CSS_ONLINE), and the zombie's
    earlier swap entries keep its id referenced. Seen on 7.2 under TCG: all 443 of
    them (4110 entries against 3668 read). So entries exceed what the guest read
    by at most this."""
    return cg["memory_stat"]["anon"] // 4096


#: What a filtered dump legitimately cannot give: pages makedumpfile left out (and
#: libkdumpfile 0.5.1 failing to decompress one of them after such a miss, seen with
#: drgn 0.0.22, which keeps one libkdumpfile context per program).
UNREADABLE = re.compile(r"Excluded page|Decompres+ion failed")

#: `makedumpfile -d 31` dumps: by the newest makedumpfile, and by Debian 12's.
FILTERED = ("d31", "d31distro")


def _version(text):
    return tuple(int(x) for x in re.findall(r"\d+", text)[:3])


def filtered_drops_pages(case, fmt):
    """Whether the makedumpfile that made this `-d 31` dump is known to exclude pages the
    analysis reads (memcgs, kernfs nodes, slab object vectors) on this kernel:
    - before 1.7.8, on 6.12+: it predates the page-type encoding in the top byte of
      page_type (v6.10, "mm: introduce page_type in the top byte"), so slab pages look
      free and are dropped (docs/real-kernel-testbed.md: 117 faults on 6.12 with 1.7.2);
    - through 1.7.9 at least, on 7.1+: the compound_head -> compound_info rename (7.1)
      leaves it unable to find a tail page's head, and compound tail pages are dropped
      (the makedumpfile fix is upstream after 1.7.9)."""
    if fmt not in FILTERED:
        return False
    made_by = _version(case.get("dump_tools", {}).get(fmt, "1.7.2"))
    k = kver(case)
    return (k >= (6, 12) and made_by < (1, 7, 8)) or (k >= (7, 1) and made_by <= (1, 7, 9))
