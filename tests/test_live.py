"""Live analysis: the CLI inside a test-bed guest, on its own /proc/kcore, against the
truth the same guest recorded. Kernels: MZ_LIVE_KERNELS (default 6.1 and the newest)."""

import json
import os

import pytest

from tests.expect import check_dying_set
from tests.testbed import build, cache, kernels, live

pytestmark = pytest.mark.guests

KERNELS = os.environ.get("MZ_LIVE_KERNELS", "6.1,sid").split(",")
_RUNS = {}


@pytest.fixture(params=KERNELS)
def live_run(request):
    series = request.param
    if series not in _RUNS:
        kernel = kernels.ensure(series)
        _RUNS[series] = live.run(kernel, ["memcg-zombies", "--format", "json"],
                                 cache.path("live") / series)
    return _RUNS[series]


def test_live_report(live_run):
    rc, out, truth = live_run
    assert "Traceback" not in out
    assert rc == 0, out[-2000:]
    report = json.loads(out)
    assert report["source"]["live"] is True and report["source"]["vmcore"] is None
    assert report["kernel"]["release"] == truth["guest"]["release"]
    assert not report["faults"], report["faults"][:3]
    for scen in build.SCENARIOS:
        check_dying_set(truth, report, scen)
    # The pins are read from a running kernel too: the tmpfs zombie's file, where
    # LRU folios still pin memcgs (before v7.1).
    if report["kernel"]["lru_css_ref_unit"] is not None:
        tmpfs = next(z for z in report["zombies"] if z["path"] == "/mz/tmpfs/leaf")
        assert tmpfs["verdict"] == "held by 1024 shmem pages of /mnt/shm/tmpfs-cache.bin (tmpfs)"
