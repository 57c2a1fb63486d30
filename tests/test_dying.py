"""Which memcgs are dying, read from real vmcores, against what the guest recorded.

One test per kernel x scenario x dump format. The guest's truth decides each removed
cgroup's fate from the kernel's own nr_dying_descendants; cgroups that still exist were
listed after the workload with whether their memory css was online.

Filtered dumps (`makedumpfile -d 31`) may lose pages that hold memcgs (which makedumpfile
on which kernel: tests/expect.py filtered_drops_pages): there the report must say what it
could not read, and what it does say must still agree with the truth."""

from tests.conftest import truth_of
from tests.expect import FILTERED, UNREADABLE, check_dying_set



def _complete(entry, report):
    """True when the report read everything; otherwise only a filtered dump may fault,
    and only on pages the dump does not hold."""
    if not report["faults"]:
        return True
    assert entry["format"] in FILTERED, report["faults"][:3]
    assert all(UNREADABLE.search(f["error"]) for f in report["faults"]), report["faults"][:3]
    return False


def test_dying_set(entry, report):
    check_dying_set(truth_of(entry), report, entry["scenario"], _complete(entry, report))


def test_nr_dying_descendants(entry, report):
    """The kernel's counters, read from the dump, equal what cgroup.stat showed."""
    t = truth_of(entry)
    scen = entry["scenario"]
    top = {m["path"]: m for m in report["memcgs"] if m["state"] == "online"}.get(f"/mz/{scen}")
    stat = t["scenarios"][scen]["cgroup_stat"]
    if top is None and not _complete(entry, report):
        return
    assert top is not None
    assert top["nr_dying_descendants"] == stat["nr_dying_descendants"]
    if "nr_dying_subsys_memory" in stat:
        assert top["nr_dying_subsys_memory"] == stat["nr_dying_subsys_memory"]
    else:
        assert top["nr_dying_subsys_memory"] is None
