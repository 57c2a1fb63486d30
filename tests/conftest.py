"""Test-bed cases as pytest parameters: every kernel x scenario x dump format that
`make vmcores` built, each test id naming its case (e.g. `6.1-tmpfs-kdump`)."""

import json
import subprocess
import sys

import pytest

from tests.testbed import build

_INDEX = None
_RUNS = {}


def index():
    global _INDEX
    if _INDEX is None:
        p = build.index_path()
        if not p.exists():
            raise pytest.UsageError(f"no test-bed index at {p}: run `make vmcores` first")
        _INDEX = json.loads(p.read_text())
    return _INDEX


def _case_id(e):
    return f"{e['kernel']}-{e['scenario']}-{e['format']}"


def pytest_generate_tests(metafunc):
    if "entry" in metafunc.fixturenames:
        entries = index()["entries"]
        metafunc.parametrize("entry", entries, ids=[_case_id(e) for e in entries])
    elif "case" in metafunc.fixturenames:
        cases = index()["cases"]
        metafunc.parametrize("case", cases, ids=[c["kernel"] for c in cases])
    elif "dump" in metafunc.fixturenames:
        dumps = [(c, fmt) for c in index()["cases"] for fmt in c["vmcores"]]
        metafunc.parametrize("dump", dumps, ids=[f"{c['kernel']}-{f}" for c, f in dumps])


def truth_of(entry_or_case):
    return json.loads(open(entry_or_case["truth"]).read())


def run_cli(vmcore, vmlinux, *args):
    """Run the CLI (JSON output) once per vmcore and arguments; cache the result."""
    key = (vmcore, vmlinux, args)
    if key not in _RUNS:
        r = subprocess.run([sys.executable, "-m", "memcg_zombies.cli", "-c", vmcore, "-s", vmlinux,
                            "--format", "json", *args], capture_output=True, text=True, timeout=900)
        _RUNS[key] = r
    return _RUNS[key]


@pytest.fixture
def report(entry):
    r = run_cli(entry["vmcore"], entry["vmlinux"])
    assert "Traceback" not in r.stderr, r.stderr
    assert r.returncode == 0, f"exit {r.returncode}: {r.stderr}"
    return json.loads(r.stdout)
