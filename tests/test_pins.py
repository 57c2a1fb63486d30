"""What pins each zombie, end to end (the CLI's JSON), against the guest's truth.

One test per kernel x scenario x dump format. The scenarios' intended pinners are in
samples/scenarios/*.sh; the truth has each cgroup's files and memory.stat before rmdir."""

import pytest

from tests.test_dying import _complete
from tests.conftest import truth_of
from tests.expect import swap_window

PAGE = 4096
# Where the guest mounted its filesystems (samples/guest/init): a file's path inside
# its filesystem is the guest path less the mount point.
MOUNTS = {"/mnt/shm": "tmpfs", "/mnt/disk": "ext4"}


def _fs_path(guest_path):
    for mnt, fs in MOUNTS.items():
        if guest_path.startswith(mnt + "/"):
            return guest_path[len(mnt):], fs
    raise AssertionError(f"file outside the guest's test mounts: {guest_path}")


def _zombies(report, truth, scen):
    """(truth cgroup, reported zombie) for every cgroup of the scenario the guest saw dying."""
    by_id = {z["cgroup_id"]: z for z in report["zombies"]}
    out = []
    for c in truth["cgroups"].values():
        if c["scenario"] == scen and c.get("dying"):
            assert c["cgroup_id"] in by_id, f"{c['path']} dying but not explained"
            out.append((c, by_id[c["cgroup_id"]]))
    return out


def _pins(z, kind):
    return [p for p in z["pins"] if p["kind"] == kind]


def _file_pins(z, truth_cg):
    """The page-cache pin of each file the cgroup wrote, by guest path."""
    out = {}
    for f in truth_cg.get("files", []):
        path, fs = _fs_path(f["path"])
        pins = [p for p in z["pins"] if p["kind"] in ("pagecache", "shmem")
                and p["what"] == f"{f['path']} ({fs})" and p["detail"]["path"] == path]
        out[f["path"]] = pins[0] if pins else None
    return out


def check_files(c, z, folios_pin):
    """Each file the zombie wrote is pinned with all its pages (page cache kept them)."""
    for guest_path, pin in _file_pins(z, c).items():
        size = next(f["bytes"] for f in c["files"] if f["path"] == guest_path)
        if not folios_pin:
            # v7.1+: folios were reparented, they no longer hold the memcg.
            assert pin is None or pin["css_refs"] == 0, pin
            continue
        assert pin is not None, f"{guest_path} not among the pins of {c['path']}"
        assert pin["count"] == -(-size // PAGE) and pin["css_refs"] == pin["count"]
        assert pin["kind"] == ("shmem" if guest_path.startswith("/mnt/shm/") else "pagecache")


def test_pins(entry, report):
    t = truth_of(entry)
    scen = entry["scenario"]
    if not _complete(entry, report):
        pytest.skip(f"filtered dump lost pages: {len(report['faults'])} faults reported")
    # v7.1+: LRU folios hold the objcg, not the css (layout.charge.lru_css_ref_unit).
    folios_pin = report["kernel"]["lru_css_ref_unit"] is not None
    for c, z in _zombies(report, t, scen):
        # Every css reference is accounted for by a pin.
        assert z["unexplained_refs"] == 0, (c["path"], z["verdict"], z["pins"])
        assert z["explained_refs"] == z["refcnt"]
        check_files(c, z, folios_pin)
        verdicts = {v["mechanism"]: v["verdict"] for v in z["reparenting"]}
        assert verdicts["objcg"] == "reparented"
        assert verdicts["lru_folios"] == ("reparented" if not folios_pin else "not in this kernel")
        if scen == "ext4":
            dirty = [p for p in _pins(z, "pagecache") if p["detail"]["path"] == "/ext4/dirty.bin"]
            if folios_pin:
                # The guest turned periodic writeback off and never synced dirty.bin:
                # all its pages are dirty. (memory.stat's file_dirty may lag by the
                # per-CPU batch on 5.10, so it is only a lower bound.)
                size = next(f["bytes"] for f in c["files"] if f["path"].endswith("/dirty.bin"))
                assert dirty[0]["detail"]["dirty"] == size // PAGE
                assert dirty[0]["detail"]["dirty"] >= c["memory_stat"]["file_dirty"] // PAGE
            wb = _pins(z, "cgwb")
            assert len(wb) == 1 and wb[0]["css_refs"] == 1
        elif scen == "anon" and folios_pin:
            # The process kept its pages and slept since memory.stat was read. Before
            # rstat (5.13), memory.stat showed per-CPU batched counts that lag by up to
            # MEMCG_CHARGE_BATCH (32) pages per CPU (the guest has one); since, exact.
            anon = sum(p["count"] for p in _pins(z, "anon"))
            lag = 32 if report["kernel"]["vmstats"] == "atomic" else 0
            assert abs(anon - c["memory_stat"]["anon"] // PAGE) <= lag, (anon, c["memory_stat"]["anon"])
        if scen == "anon":
            # The pages' anon_vma chains lead to the one process the scenario started.
            (pin,) = _pins(z, "anon")
            assert [p["comm"] for p in pin["detail"]["mapped_by"]] == ["zhog"], pin["detail"]
        elif scen == "tcp":
            socks = _pins(z, "socket")
            states = sorted(p["detail"]["state"] for p in socks)
            assert states == ["ESTABLISHED", "ESTABLISHED", "LISTEN"], states
            assert all(p["css_refs"] == 1 for p in socks)
        elif scen == "sock":
            # Held by the sockets the guest saw in its process's fd table.
            inos = sorted(p["detail"].get("ino") for p in _pins(z, "socket"))
            assert inos == sorted(c["socket_inodes"]), (inos, c["socket_inodes"])
            # Who to look at: the process the guest read the fds from, in the verdict
            # (its sockets, and before v7.1 its anon pages), and as the anon pages' mapper.
            pid = c["socket_pid"]
            assert all(h.startswith(f"pid {pid} (zhog) fd ") for p in _pins(z, "socket")
                       for h in p["detail"]["holders"]), _pins(z, "socket")
            assert f"zhog (pid {pid}, fds " in z["verdict"], z["verdict"]
            for pin in _pins(z, "anon"):
                assert pin["detail"]["mapped_by"] == [{"pid": pid, "comm": "zhog"}], pin
        elif scen == "swap":
            entries = sum(p["count"] for p in _pins(z, "swap"))
            swapped = c["memory_swap_current"] // PAGE
            assert swapped * 0.99 <= entries <= swapped + swap_window(c), (entries, swapped)
        elif scen == "children" and c["path"] == "/mz/children/parent":
            kids = _pins(z, "child")
            assert [p["what"] for p in kids] == ["/mz/children/parent/child"]
            assert z["refcnt"] == 1
        elif scen == "bulk":
            holding = [p for p in z["pins"] if p["css_refs"]]
            assert z["refcnt"] == 1 and [p["kind"] for p in holding] == ["shmem"]
        assert z["verdict"].startswith("held by ")
