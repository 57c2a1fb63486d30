"""The report itself: JSON valid against the documented schema on every real case,
text and Markdown renderings, --top and --cgroup, and the drgn-script entry point."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_cli, truth_of
from tests.test_report_model import jsonl_document, with_notes

jsonschema = pytest.importorskip("jsonschema")
SCHEMA = json.loads((Path(__file__).parents[1] / "analyzers" / "memcg_zombies" / "schema.json").read_text())


def _json(dump):
    case, fmt = dump
    r = run_cli(case["vmcores"][fmt], case["vmlinux"])
    assert "Traceback" not in r.stderr and r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_json_schema(dump):
    report = _json(dump)
    jsonschema.validate(report, SCHEMA)
    # One line per memcg, zombie and fault: grep finds a zombie whole.
    case, fmt = dump
    lines = {line.strip().rstrip(",") for line in
             run_cli(case["vmcores"][fmt], case["vmlinux"]).stdout.splitlines()}
    for item in report["memcgs"] + report["zombies"] + report["faults"]:
        assert json.dumps(item) in lines
    assert report["source"]["vmcore"] == dump[0]["vmcores"][dump[1]]
    assert report["source"]["live"] is False
    # Zombies are exactly the dying memcgs, largest pinned memory first.
    dying = {m["address"] for m in report["memcgs"] if m["state"] == "dying"}
    assert {z["address"] for z in report["zombies"]} == dying
    pinned = [(z["pinned_bytes"], z["swap_bytes"]) for z in report["zombies"]]
    assert pinned == sorted(pinned, reverse=True)


def _untimed(o):
    if isinstance(o, dict):
        return {k: _untimed(v) for k, v in o.items() if "seconds" not in k}
    if isinstance(o, list):
        return [_untimed(v) for v in o]
    return o


def test_notes_said_once_and_jsonl(case):
    """Schema /2: the kernel's texts (cost note, cost parts' allocators, stats method,
    frozen note, reparenting reasons) are said once in notes and no zombie repeats
    them; --format jsonl is the same document, one typed object per line."""
    vmcore, vmlinux = case["vmcores"]["kdump"], case["vmlinux"]
    r = run_cli(vmcore, vmlinux)
    doc, notes = json.loads(r.stdout), json.loads(r.stdout)["notes"]
    assert doc["zombies"] and notes["cost"] and notes["frozen"] and notes["stats_method"]
    assert "kmem_caches" in notes["reparenting"]  # one text for every zombie of a kernel
    texts = [notes["cost"], notes["stats_method"], *notes["cost_parts"].values(),
             *notes["reparenting"].values()]
    said = json.dumps(notes)
    for text in texts:  # only in the notes (several cost parts share an allocator)
        assert r.stdout.count(json.dumps(text)) == said.count(json.dumps(text)), text
    for z in doc["zombies"]:
        assert "note" not in z["cost"] and "frozen" not in z["state"], z["path"]
        assert all(p.get("how") != notes["cost_parts"].get(p["name"])
                   for p in z["cost"]["parts"]), z["path"]
        assert all(v.get("reason") != notes["reparenting"].get(v["mechanism"])
                   for v in z["reparenting"]), z["path"]
        assert all(v.get("reason") or notes["reparenting"].get(v["mechanism"])
                   for v in with_notes(z, notes)["reparenting"])
    lines = run_cli(vmcore, vmlinux, "--format", "jsonl")
    assert lines.returncode == 0 and "Traceback" not in lines.stderr, lines.stderr
    assert _untimed(jsonl_document(lines.stdout)) == _untimed(doc)


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
    cli = Path(__file__).parents[1] / "analyzers" / "memcg_zombies" / "cli.py"
    r = subprocess.run([*drgn_cli, "-q", "-c", case["vmcores"]["kdump"], "-s", case["vmlinux"],
                        str(cli), "--format", "json", "--no-pins"],
                       capture_output=True, text=True, timeout=900,
                       env={**os.environ, "PYTHONPATH": ""})
    assert r.returncode == 0, r.stderr[-2000:]
    report = json.loads(r.stdout)
    # The report names the vmcore drgn opened, as the command does.
    assert report["source"]["vmcore"] == os.path.abspath(case["vmcores"]["kdump"])
    assert report["source"]["live"] is False
    t = truth_of(case)
    ids = {m["cgroup_id"] for m in report["memcgs"] if m["state"] == "dying"}
    assert {c["cgroup_id"] for c in t["cgroups"].values() if c.get("dying")} <= ids


def _holding_kinds(z):
    kinds = {p["kind"] for p in z["pins"] if p["css_refs"] > 0}
    return kinds | ({"unexplained"} if (z["unexplained_refs"] or 0) > 0 else set())


def test_held_by(case):
    """The summary's "what holds them", per kind of pin, against the guest: sockets
    hold exactly the tcp and sock leaves the guest saw dying, child css exactly the
    dying cgroups with a dying child, and every bulk zombie (one tmpfs page and
    nothing else) is held by shmem alone. Each row adds up the zombies' own pins."""
    report = _json((case, "kdump"))
    rows = {r["kind"]: r for r in report["summary"]["held_by"]}
    zombies = report["zombies"]
    for kind, r in rows.items():
        held = [z for z in zombies if kind in _holding_kinds(z)]
        assert r["memcgs"] == len(held), kind
        assert r["alone"] == sum(1 for z in held if _holding_kinds(z) == {kind}), kind
        if kind != "unexplained":
            assert r["bytes"] == sum(p["bytes"] for z in held for p in z["pins"]
                                     if p["kind"] == kind and p["css_refs"] > 0), kind
    t = truth_of(case)
    dying = {c["path"] for c in t["cgroups"].values() if c.get("dying")}
    n = lambda kind: rows[kind]["memcgs"] if kind in rows else 0  # noqa: E731
    assert n("socket") == len(dying & {"/mz/tcp/leaf", "/mz/sock/leaf"})
    assert n("child") == sum(1 for p in dying if any(q.rsplit("/", 1)[0] == p for q in dying))
    bulk = {p for p in dying if p.startswith("/mz/bulk/")}
    if bulk:
        alone = {z["path"] for z in zombies if _holding_kinds(z) == {"shmem"}}
        assert bulk <= alone
    # The text report shows the same table.
    r = _cli(case)
    assert "what holds them" in r.stdout
    for kind, row in rows.items():
        assert any(line.split()[:3] == [kind, f"{row['memcgs']:,}", f"{row['alone']:,}"]
                   for line in r.stdout.splitlines()), kind
