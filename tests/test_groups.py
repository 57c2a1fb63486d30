"""Which leak each zombie belongs to, against the hosts scenario's truth: cgroups named
as systemd, docker, containerd, CRI-O and the kubelet name them, each recorded with its
family and the per-instance tokens of its name. On every kernel whose zombies survive
offline, each family is exactly one group, different families are different groups,
no pattern holds a per-instance token, and the ages agree with the ids the guest
recorded (cgroup ids order creation)."""

import json
import re
import subprocess
import sys
from bisect import bisect_right

import pytest

from tests.conftest import run_cli, truth_of


def _report(case, *args):
    r = run_cli(case["vmcores"]["kdump"], case["vmlinux"], *args)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout)


def _families(case):
    """{family: {cgroup ids of its dying members}} and every hosts cgroup's tokens."""
    t = truth_of(case)
    hosts = [c for c in t["cgroups"].values() if c["scenario"] == "hosts" and c.get("family")]
    fams = {}
    for c in hosts:
        if c.get("dying"):
            fams.setdefault(c["family"], set()).add(c["cgroup_id"])
    if not fams:
        pytest.skip(f"{case['release']} frees the hosts zombies at offline (LRU reparenting)")
    return fams, {tok for c in hosts for tok in c["tokens"]}


def test_each_family_is_one_group(case):
    fams, tokens = _families(case)
    report = _report(case)
    by_id = {z["cgroup_id"]: z for z in report["zombies"]}
    rows = {g["pattern"]: g for g in report["summary"]["groups"]}
    group_of = {}
    for fam, ids in fams.items():
        groups = {by_id[i]["group"] for i in ids}
        assert len(groups) == 1, (fam, groups)
        g = groups.pop()
        assert {z["cgroup_id"] for z in report["zombies"] if z["group"] == g} == ids, fam
        row = rows[g]
        assert row["count"] == len(ids)
        assert row["pinned_bytes"] == sum(by_id[i]["pinned_bytes"] for i in ids)
        # Leaves hold one tmpfs page each; a pod slice only its dying container.
        assert row["kinds"] == ({"child": len(ids)} if fam.startswith("pod-")
                                else {"shmem": len(ids)}), (fam, row["kinds"])
        group_of[fam] = g
    assert len(set(group_of.values())) == len(group_of), group_of
    # No per-instance token in any hosts pattern (a token stands alone in a name: a
    # uid or number is not part of a longer number or hex id).
    for g in rows:
        if g.startswith("/mz/hosts/"):
            for tok in tokens:
                assert not re.search(rf"(?<![0-9a-f]){re.escape(tok)}(?![0-9a-f])", g), (g, tok)
    # Every group is listed, and every zombie is in one.
    assert sum(r["count"] for r in rows.values()) == len(report["zombies"])


def test_group_depth(case):
    fams, _ = _families(case)
    report = _report(case, "--group-depth", "3")
    by_id = {z["cgroup_id"]: z["group"] for z in report["zombies"]}
    where = {"transient": "system.slice", "transient-u": "system.slice", "instance": "system.slice",
             "docker": "system.slice", "session": "user.slice", "user-app": "user.slice",
             "containerd": "kubepods.slice", "crio": "kubepods.slice",
             "pod-burstable": "kubepods.slice", "pod-besteffort": "kubepods.slice"}
    for fam, ids in fams.items():
        assert {by_id[i] for i in ids} == {f"/mz/hosts/{where[fam]}"}, fam


def test_relative_age(case):
    """The ids the guest recorded give each group's oldest and newest member; the share
    of live cgroups newer than the newest is counted over the cgroups the guest listed
    alive with a memory controller; the unit the guest made last is newer than every
    leak under system.slice."""
    fams, _ = _families(case)
    t = truth_of(case)
    report = _report(case)
    by_id = {z["cgroup_id"]: z for z in report["zombies"]}
    rows = {g["pattern"]: g for g in report["summary"]["groups"]}
    live = sorted(c["cgroup_id"] for c in t["cgroups"].values()
                  if c.get("alive") and c.get("memory_css_online"))
    late = t["cgroups"]["/mz/hosts/system.slice/late.service"]["cgroup_id"]
    for fam, ids in fams.items():
        row = rows[by_id[min(ids)]["group"]]
        assert (row["oldest_cgroup_id"], row["newest_cgroup_id"]) == (min(ids), max(ids))
        newer = len(live) - bisect_right(live, max(ids))
        assert row["newest_older_than_live"] == pytest.approx(newer / len(live)), fam
        assert late > max(ids)
        if row["parent"] == "/mz/hosts/system.slice":
            assert row["live_under_parent_newer"] >= 1, (fam, row)
        for i in ids:
            z = by_id[i]
            assert z["older_than_live"] == pytest.approx(
                (len(live) - bisect_right(live, i)) / len(live))


def test_text_lists_groups(case):
    _families(case)
    groups = _report(case)["summary"]["groups"]
    out = subprocess.run([sys.executable, "-m", "memcg_zombies", "-c", case["vmcores"]["kdump"],
                          "-s", case["vmlinux"], "--groups", "3"],
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    assert f"which leaks: {len(groups)} groups by name pattern" in out.stdout
    assert f"... {len(groups) - 3} more groups (--groups 0 shows all)" in out.stdout
    for g in groups[:3]:
        assert f"  {g['pattern']}" in out.stdout
