"""Usage mistakes never look like an answer: an option a format does not honour, a
missing engine, a negative --top, a --cgroup selector that selects no dying memcg, a
FIFO or a compressed container given as the vmcore. Each is refused in one line with
its documented exit status; every selector form that should select does, checked
against the cgroups the guest recorded."""

import gzip
import re
import json
import lzma
import os
import sys

import pytest

from tests.test_bad_input import EXIT_INPUT, assert_error, case, run
from tests.conftest import truth_of

EXIT_USAGE, EXIT_NO_MATCH = 2, 6


@pytest.fixture(scope="module")
def c61():
    c = case("6.1")
    return c, truth_of(c)


def _run(c, *args, fmt="json"):
    return run(*args, vmcore=c["vmcores"]["kdump"], vmlinux=c["vmlinux"], fmt=fmt)


def _usage_error(r, *needles):
    """Exit 2, no report on stdout, argparse's usage and one error line."""
    assert r.returncode == EXIT_USAGE, (r.returncode, r.stderr[-1000:])
    assert r.stdout == ""
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("memcg-zombies: error: "), r.stderr
    for n in needles:
        assert n in last, last


@pytest.mark.parametrize("args,fmt,needle", [
    (["--top", "-1"], "text", "'-1' is not a number of zombies"),
    (["--top", "x"], "text", "'x' is not a number of zombies"),
    (["--top", "2"], "json", "--top does not apply to --format json"),
    (["--detail"], "markdown", "--detail does not apply to --format markdown"),
    (["--all"], "json", "--all does not apply to --format json"),
    (["--top", "2"], "jsonl", "--top does not apply to --format jsonl"),
    (["--wide"], "jsonl", "--wide does not apply to --format jsonl"),
])
def test_option_refused(c61, args, fmt, needle):
    _usage_error(_run(c61[0], *args, fmt=fmt), needle)


def test_missing_c_engine_is_a_usage_error(c61):
    c, _ = c61
    # The C engine hidden as in an installation built without libkdumpfile-dev.
    code = ("import sys; sys.modules['memcg_zombies._scan'] = None; "
            "from memcg_zombies.cli import main; sys.exit(main(sys.argv[1:]))")
    import subprocess
    r = subprocess.run([sys.executable, "-c", code, "-c", c["vmcores"]["kdump"],
                        "-s", c["vmlinux"], "--scanner", "c"],
                       capture_output=True, text=True, timeout=300)
    _usage_error(r, "--scanner c: the C engine is not built")
    # Without --scanner the same installation reports with the Python engine.
    r = subprocess.run([sys.executable, "-c", code, "-c", c["vmcores"]["kdump"],
                        "-s", c["vmlinux"], "--format", "json", "--cgroup", "/mz/ext4/leaf"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["source"]["scanner"] == "python"


def _paths(truth, **want):
    return [p for p, t in truth["cgroups"].items()
            if all(t.get(k) == v for k, v in want.items())]


def test_selectors_that_select_nothing(c61):
    c, truth = c61
    live = _paths(truth, alive=True, scenario="live")[0]
    freed = _paths(truth, removed=True, dying=False)[0]
    dying = _paths(truth, dying=True, scenario="ext4")[0]
    cases = [
        (live, f"{live} is online, not dying"),
        (freed, "no memcg matches (a freed cgroup leaves no memcg behind)"),
        (str(truth["cgroups"][freed]["cgroup_id"]),
         f"no memcg has cgroup id {truth['cgroups'][freed]['cgroup_id']}"),
        (dying + "x", "no memcg matches"),
        (dying.lstrip("/"), f"did you mean {dying}?"),
        ("/nowhere/*", "no memcg matches"),
    ]
    for sel, needle in cases:
        r = _run(c, "--cgroup", sel)
        line = assert_error(r, EXIT_NO_MATCH, f"--cgroup {sel}: ")
        assert needle in line, line


def test_css_id_given_as_cgroup_id_is_explained(c61):
    c, truth = c61
    rep = json.loads(_run(c, "--no-pins").stdout)
    ids = {m["cgroup_id"] for m in rep["memcgs"]}
    # A css id that is nobody's cgroup id: the error points at css:N.
    m = next(m for m in rep["memcgs"] if m["state"] == "dying" and m["css_id"] not in ids)
    line = assert_error(_run(c, "--cgroup", str(m["css_id"])), EXIT_NO_MATCH)
    assert f"is the css id of {m['path']} (select it with css:{m['css_id']})" in line, line


def test_every_selector_form_selects(c61):
    c, truth = c61
    rep = json.loads(_run(c, "--no-pins").stdout)
    by_path = {m["path"]: m for m in rep["memcgs"]}
    ext4 = _paths(truth, dying=True, scenario="ext4")[0]
    tcp = _paths(truth, dying=True, scenario="tcp")[0]
    bulk = sorted(_paths(truth, dying=True, scenario="bulk"))
    m = by_path[ext4]
    assert m["cgroup_id"] == truth["cgroups"][ext4]["cgroup_id"]
    for sel in (ext4, ext4 + "/", str(m["cgroup_id"]), f"css:{m['css_id']}", m["address"]):
        out = json.loads(_run(c, "--cgroup", sel).stdout)
        assert [z["path"] for z in out["zombies"]] == [ext4], sel
    out = json.loads(_run(c, "--cgroup", "/mz/bulk/z1?", "--cgroup", tcp).stdout)
    want = {p for p in bulk if len(p) == len("/mz/bulk/z10") and p.startswith("/mz/bulk/z1")}
    assert want and {z["path"] for z in out["zombies"]} == want | {tcp}


def test_fifo_is_refused_without_waiting(tmp_path, c61):
    fifo = tmp_path / "vmcore"
    os.mkfifo(fifo)
    r = run(vmcore=fifo, vmlinux=c61[0]["vmlinux"])
    assert_error(r, EXIT_INPUT, f"cannot open vmcore {fifo}: not a regular file")
    assert r.seconds < 60


@pytest.mark.parametrize("kind", ["gzip", "xz", "zstd", "bzip2"])
def test_compressed_vmcore_says_how_to_unpack(tmp_path, c61, kind):
    with open(c61[0]["vmcores"]["kdump"], "rb") as f:
        head = f.read(1 << 16)
    dest = tmp_path / f"vmcore.{kind}"
    if kind == "gzip":
        dest.write_bytes(gzip.compress(head))
    elif kind == "xz":
        dest.write_bytes(lzma.compress(head))
    else:  # the containers' magic numbers, as their tools write them
        dest.write_bytes({"zstd": b"\x28\xb5\x2f\xfd", "bzip2": b"BZh9"}[kind] + head)
    unpack = {"gzip": "gunzip -k", "xz": "unxz -k", "zstd": "unzstd", "bzip2": "bunzip2 -k"}
    assert_error(run(vmcore=dest, vmlinux=c61[0]["vmlinux"]), EXIT_INPUT,
                 f"is {kind}-compressed: unpack it first ({unpack[kind]} {dest})")


def test_text_first_screen(c61):
    """80 columns but for the vmcore's own path; --wide gives one line per zombie; every
    holder named (no bare "N more"), counts and units agreeing."""
    c, truth = c61
    r = _run(c, fmt="text")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[1] == f"read from vmcore {c['vmcores']['kdump']}"
    # Over 80 columns only where a path or pattern alone does not fit (never cut).
    wide = [line for line in lines[:1] + lines[2:]
            if len(line) > 80 and not re.fullmatch(r".*  /\S+", line)]
    assert not wide, wide
    for unit in ("refs", "objects", "pages", "entries"):
        assert not re.search(rf"(?<![\d,.])1 {unit}\b", r.stdout), unit
    w = _run(c, "--wide", fmt="text")
    table = w.stdout.split("most pinned memory first")[1].splitlines()[1:]
    assert table[0].split() == ["PINNED", "SWAP", "REFS", "CGROUP_ID", "PATH", "VERDICT"]
    ext4 = _paths(truth, dying=True, scenario="ext4")[0]
    row = next(line for line in table if f" {ext4} " in line)
    # Its three holders: both files and the cgroup writeback (the truth's dirty file).
    assert "clean.bin" in row and "dirty.bin" in row and "cgroup writeback" in row, row
    report = json.loads(_run(c).stdout)
    for z in report["zombies"]:
        assert not re.search(r"\d+ more\b(?! holders \()", z["verdict"]), z["verdict"]
