"""The test bed fails clearly: a guest that panics, or never gets ready, raises
GuestError with the reason and the console's tail (not a hang, not a bare timeout)."""

import pytest

from tests.testbed import build, cache, guest, initramfs, kernels

pytestmark = pytest.mark.guests


@pytest.fixture(scope="module")
def kernel_initrd():
    kernel = kernels.ensure("6.1")
    work = cache.path("guest-failures")
    return kernel, initramfs.build(kernel, kernels.GUEST_MODULES, work / "initrd.gz"), work


def test_guest_panic(kernel_initrd):
    kernel, initrd, work = kernel_initrd
    # No such init: the kernel panics ("No working init found") and, with -no-reboot,
    # qemu exits.
    with pytest.raises(guest.GuestError) as e:
        guest.boot(kernel, initrd, work, "rdinit=/nonexistent init=/nonexistent",
                   disks=build.make_disks(work), timeout=300)
    msg = str(e.value)
    assert msg.startswith(("guest kernel panicked", "qemu exited")), msg
    assert "console tail:" in msg and "Kernel panic" in msg


def test_guest_never_ready(kernel_initrd):
    kernel, initrd, work = kernel_initrd
    with pytest.raises(guest.GuestError) as e:
        guest.boot(kernel, initrd, work, "mz.scenarios=live", ready="NEVER-PRINTED",
                   disks=build.make_disks(work), timeout=5)
    msg = str(e.value)
    assert msg.startswith("guest not ready after 5 s (waiting for NEVER-PRINTED)"), msg
    assert "console tail:" in msg
