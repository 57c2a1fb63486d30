"""Test-bed cases as pytest parameters: every kernel x scenario x dump format that
`make vmcores` built, each test id naming its case (e.g. `6.1-tmpfs-kdump`).

Without a test bed (no index yet, or MZ_TESTBED=off as `make check` sets), every test
that needs one is collected once under the id `no-testbed` and skipped, saying why; the
rest run as usual."""

import json
import os
import subprocess
import sys

import pytest

from tests.testbed import build

_INDEX = None
_RUNS = {}


def _why_no_testbed():
    if os.environ.get("MZ_TESTBED") == "off":
        return "test bed not used (MZ_TESTBED=off: the fast lane, `make check`)"
    if not build.index_path().exists():
        return f"no test-bed index at {build.index_path()}: run `make vmcores` first"
    return None


def index():
    """The test-bed index; a test that needs it is skipped when there is none."""
    global _INDEX
    if _INDEX is None:
        why = _why_no_testbed()
        if why:
            pytest.skip(why)
        _INDEX = json.loads(build.index_path().read_text())
    return _INDEX


def pytest_report_header(config):
    """The exact kernels this run tests: a failure names the ABI it happened on."""
    why = _why_no_testbed()
    if why:
        return [f"test bed: none ({why})"]
    idx = json.loads(build.index_path().read_text())
    lines = [f"test bed: {build.index_path()}"]
    for c in idx["cases"]:
        release = "" if c["release"] == c["abi"] else f"release {c['release']}; "
        pkgs = ", ".join(c.get("packages", [])) or "packages not recorded"
        lines.append(f"  {c['kernel']:5} {c['abi']} ({release}built {c.get('built', '?')}; "
                     f"{pkgs})")
    return lines


def pytest_configure(config):
    config.addinivalue_line("markers", "guests: boots test-bed guests of its own (skipped "
                            "with MZ_TESTBED=off)")


def pytest_collection_modifyitems(config, items):
    if os.environ.get("MZ_TESTBED") != "off":
        return
    skip = pytest.mark.skip(reason=_why_no_testbed())
    for item in items:
        if "guests" in item.keywords:
            item.add_marker(skip)


def _case_id(e):
    return f"{e['kernel']}-{e['scenario']}-{e['format']}"


_TESTBED_PARAMS = ("entry", "case", "dump")


def pytest_generate_tests(metafunc):
    name = next((n for n in _TESTBED_PARAMS if n in metafunc.fixturenames), None)
    if name is None:
        return
    why = _why_no_testbed()
    if why:
        metafunc.parametrize(name, [pytest.param(None, marks=pytest.mark.skip(reason=why))],
                             ids=["no-testbed"])
        return
    idx = index()
    if name == "entry":
        entries = idx["entries"]
        metafunc.parametrize("entry", entries, ids=[_case_id(e) for e in entries])
    elif name == "case":
        cases = idx["cases"]
        metafunc.parametrize("case", cases, ids=[c["kernel"] for c in cases])
    else:
        dumps = [(c, fmt) for c in idx["cases"] for fmt in c["vmcores"]]
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
