"""The one fault guard (faults.py) and the scan's options, without a kernel."""

import dataclasses

import pytest

drgn = pytest.importorskip("drgn")
from memcg_zombies import scan  # noqa: E402
from memcg_zombies.faults import READ_ERRORS, STEP_ERRORS, guarded, warn_on_fault  # noqa: E402
from memcg_zombies.report import Fault  # noqa: E402


def test_read_error_becomes_a_fault():
    faults = []
    with warn_on_fault(faults, "memcg 0x10", 0x10) as caught:
        raise drgn.FaultError("could not read memory", 0x1000)
    assert caught and isinstance(caught.error, drgn.FaultError)
    assert faults == [Fault("memcg 0x10", str(caught.error), 0x10)]


@pytest.mark.parametrize("error", [KeyError("x"), IndexError("i"), AttributeError("a"),
                                   ValueError("v"), TypeError("t")])
def test_read_errors_are_caught(error):
    faults = []
    assert guarded(faults, "where", lambda: (_ for _ in ()).throw(error), "default") == "default"
    assert len(faults) == 1 and isinstance(error, READ_ERRORS)


def test_messages_as_before():
    faults = []
    with warn_on_fault(faults, "cost of memcg 0x1", 1, what="nodeinfo"):
        raise ValueError("bad")
    with warn_on_fault(faults, "memcg 0x1 id", 1, typed=True):
        raise LookupError("no such member")
    assert [f.error for f in faults] == ["nodeinfo: bad", "LookupError: no such member"]


def test_a_bug_goes_up_to_its_step():
    faults = []
    with pytest.raises(ZeroDivisionError):
        with warn_on_fault(faults, "inner"):
            1 // 0
    assert not faults
    with warn_on_fault(faults, "pinner x", typed=True, catch=STEP_ERRORS) as caught:
        1 // 0
    assert caught and faults == [Fault("pinner x", "ZeroDivisionError: integer division or "
                                                   "modulo by zero")]


def test_nothing_caught():
    faults = []
    with warn_on_fault(faults, "where") as caught:
        pass
    assert not caught and not faults
    assert guarded(faults, "where", lambda: 5, 0) == 5


def test_engines_and_options():
    assert "python" in scan.engines()
    assert scan.best_engine() == ("c" if "c" in scan.engines() else "python")
    opts = scan.ScanOptions()
    assert (opts.engine, opts.reader, opts.threads, opts.vmcore) == (None, "auto", None, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.threads = 2  # frozen: one set of options per analysis
    with pytest.raises(ValueError, match="unknown page-scan engine"):
        scan.scan_pages(drgn.Program(), None, scan.ScanOptions(engine="fortran"))
    if "c" in scan.engines():
        with pytest.raises(ValueError, match="needs ScanOptions"):
            scan.scan_pages(drgn.Program(), None, scan.ScanOptions(engine="c", reader="kdump"))
