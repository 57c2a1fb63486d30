"""Installed like any Python tool: `pip install .` into a fresh virtualenv on a machine
without libkdumpfile's headers (hidden by a bind mount in a private mount namespace)
succeeds, `memcg-zombies --version` says the C engine is missing, and the installed
command's report of a real vmcore (Python engine) equals this checkout's (C engine
where built)."""

import json
import os
import shutil
import subprocess

import pytest

from tests.conftest import index, run_cli
from tests.testbed import cache

HEADERS = "/usr/include/libkdumpfile"
#: The venv's own packages only: not the checkout's (PYTHONPATH, as `make test` sets).
ENV = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}


def _source_tree(dest):
    files = subprocess.run(["git", "ls-files"], cwd=cache.PROJECT, capture_output=True,
                           text=True, check=True).stdout.split()
    for f in files:
        (dest / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(cache.PROJECT / f, dest / f, follow_symlinks=False)
    return dest


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    index()  # the comparison needs the test bed (and the fast lane skips this venv)
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("hiding the headers needs root and unshare(1)")
    if not os.path.isdir(HEADERS):
        pytest.skip(f"{HEADERS} absent: nothing to hide")
    tmp = tmp_path_factory.mktemp("install")
    src = _source_tree(tmp / "src")
    env = tmp / "venv"
    subprocess.run(["/usr/bin/python3", "-m", "venv", str(env)], check=True, env=ENV)
    empty = tmp / "empty"
    empty.mkdir()
    r = subprocess.run(
        ["unshare", "-m", "sh", "-c",
         f"mount --bind {empty} {HEADERS} && test ! -e {HEADERS}/kdumpfile.h && "
         f"{env}/bin/pip install -q {src}"],
        capture_output=True, text=True, timeout=900, env=ENV)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    return env


def test_installs_without_libkdumpfile(venv):
    r = subprocess.run([f"{venv}/bin/memcg-zombies", "--version"], capture_output=True,
                       text=True, timeout=120, env=ENV)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("memcg-zombies ") and lines[1].startswith("drgn ")
    assert "python (the C engine is not built" in lines[2], lines
    # python -m works the same way.
    r2 = subprocess.run([f"{venv}/bin/python", "-m", "memcg_zombies", "--version"],
                        capture_output=True, text=True, timeout=120, env=ENV)
    assert r2.stdout == r.stdout


def _comparable(report):
    """What the analysis found, without how it was read (engine, timings, paths)."""
    report = dict(report)
    report.pop("source")
    return report


def test_installed_report_equals_checkout(venv):
    c = next(c for c in index()["cases"] if c["kernel"] == "6.1")
    args = ["-c", c["vmcores"]["kdump"], "-s", c["vmlinux"], "--format", "json"]
    r = subprocess.run([f"{venv}/bin/memcg-zombies", *args], capture_output=True, text=True,
                       timeout=900, cwd="/", env=ENV)
    assert r.returncode == 0, r.stderr[-2000:]
    installed = json.loads(r.stdout)
    assert installed["source"]["scanner"] == "python"
    here = run_cli(c["vmcores"]["kdump"], c["vmlinux"])
    assert here.returncode == 0, here.stderr[-2000:]
    assert _comparable(installed) == _comparable(json.loads(here.stdout))
