"""The report itself: JSON valid against the documented schema on every real case,
text and Markdown renderings, --top and --cgroup, and the drgn-script entry point."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_cli, truth_of

jsonschema = pytest.importorskip("jsonschema")
SCHEMA = json.loads((Path(__file__).parents[1] / "analyzers" / "schema.json").read_text())


def _json(dump):
    case, fmt = dump
    r = run_cli(case["vmcores"][fmt], case["vmlinux"])
    assert "Traceback" not in r.stderr and r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_json_schema(dump):
    report = _json(dump)
    jsonschema.validate(report, SCHEMA)
    assert report["source"]["vmcore"] == dump[0]["vmcores"][dump[1]]
    assert report["source"]["live"] is False
    # Zombies are exactly the dying memcgs, largest pinned memory first.
    dying = {m["address"] for m in report["memcgs"] if m["state"] == "dying"}
    assert {z["address"] for z in report["zombies"]} == dying
    pinned = [(z["pinned_bytes"], z["swap_bytes"]) for z in report["zombies"]]
    assert pinned == sorted(pinned, reverse=True)


def _cli(case, *args, fmt="kdump"):
    return subprocess.run([sys.executable, "-m", "memcg_zombies.cli", "-c", case["vmcores"][fmt],
                           "-s", case["vmlinux"], *args],
                          capture_output=True, text=True, timeout=900)


def test_text_top_and_cgroup(case):
    t = truth_of(case)
    dying = [c for c in t["cgroups"].values() if c.get("dying")]
    r = _cli(case, "--top", "3")
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    table = r.stdout.split("most pinned memory first")[1].splitlines()[2:]
    assert len([line for line in table if line.startswith(("0", "1", "2", "3", "4", "5", "6", "7", "8", "9"))]) \
        == min(3, len(dying))
    # One cgroup by id: its detail section, and only it.
    target = dying[0]
    r = _cli(case, "--cgroup", str(target["cgroup_id"]), "--format", "json")
    report = json.loads(r.stdout)
    assert [z["cgroup_id"] for z in report["zombies"]] == [target["cgroup_id"]]
    r = _cli(case, "--cgroup", target["path"])
    assert f"{target['path']}  (cgroup id {target['cgroup_id']}" in r.stdout


def test_markdown(case):
    r = _cli(case, "--format", "markdown", "--top", "5")
    assert r.returncode == 0, r.stderr
    t = truth_of(case)
    n = sum(1 for c in t["cgroups"].values() if c.get("dying") or
            (c.get("memcg_killed") and c.get("dying") is None))
    assert r.stdout.startswith(f"### memcg-zombies: {n} dying memcgs on {case['release']}")
    assert "| pinned | swap | refs | cgroup id | path | verdict |" in r.stdout


def test_drgn_script(case):
    """The CLI file runs as a drgn script with the same JSON."""
    drgn_cli = [sys.executable, "-m", "drgn"]
    cli = Path(__file__).parents[1] / "analyzers" / "cli.py"
    r = subprocess.run([*drgn_cli, "-q", "-c", case["vmcores"]["kdump"], "-s", case["vmlinux"],
                        str(cli), "--format", "json", "--no-pins"],
                       capture_output=True, text=True, timeout=900,
                       env={**os.environ, "PYTHONPATH": ""})
    assert r.returncode == 0, r.stderr[-2000:]
    report = json.loads(r.stdout)
    t = truth_of(case)
    ids = {m["cgroup_id"] for m in report["memcgs"] if m["state"] == "dying"}
    assert {c["cgroup_id"] for c in t["cgroups"].values() if c.get("dying")} <= ids
