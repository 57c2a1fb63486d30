"""Which memcgs are dying, read from real vmcores, against what the guest recorded.

One test per kernel x scenario x dump format. The guest's truth decides each removed
cgroup's fate from the kernel's own nr_dying_descendants; cgroups that still exist were
listed after the workload with whether their memory css was online."""

from tests.conftest import truth_of


def _by_id(report):
    return {m["cgroup_id"]: m for m in report["memcgs"] if m["cgroup_id"] is not None}


def test_dying_set(entry, report):
    t = truth_of(entry)
    scen = entry["scenario"]
    memcgs = _by_id(report)
    cgs = [c for c in t["cgroups"].values() if c["scenario"] == scen]
    assert cgs, f"truth has no cgroups for {scen}"
    reported_dying = {m["cgroup_id"] for m in report["memcgs"]
                      if m["state"] == "dying" and (m["path"] or "").startswith(f"/mz/{scen}")}
    expect_dying = {c["cgroup_id"] for c in cgs if c.get("dying")}
    assert reported_dying == expect_dying
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


def test_nr_dying_descendants(entry, report):
    """The kernel's counter, read from the dump, equals what cgroup.stat showed."""
    t = truth_of(entry)
    scen = entry["scenario"]
    top = _by_path(report).get(f"/mz/{scen}")
    assert top is not None and top["state"] == "online"
    stat = t["scenarios"][scen]["cgroup_stat"]
    assert top["nr_dying_descendants"] == stat["nr_dying_descendants"]
    if "nr_dying_subsys_memory" in stat:
        assert top["nr_dying_subsys_memory"] == stat["nr_dying_subsys_memory"]


def _by_path(report):
    return {m["path"]: m for m in report["memcgs"] if m["state"] == "online"}
