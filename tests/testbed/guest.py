"""Boot a test-bed guest under qemu, wait for its workload, dump its memory over QMP.

KVM on these machines is the kvm_pvm flavour, which hangs or aborts the guest; TCG is
the default and KVM only an opt-in (MZ_KVM=1) that falls back to TCG when it fails.
"""

import json
import os
import socket
import subprocess
import time
from pathlib import Path

# 5-level paging is not what production kernels run, and `max` with it double-faults
# 6.12 early in ~2 of 7 boots; cx16 off likewise (see real-kernel-testbed.md).
TCG_CPU = "max,la57=off,-cx16"


class GuestError(Exception):
    pass


class QMP:
    def __init__(self, path: Path, timeout=600):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(timeout)
        self.sock.connect(str(path))
        self.buf = b""
        self._read()  # greeting
        self.cmd("qmp_capabilities")

    def _read(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise GuestError("QMP connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def cmd(self, name, **args):
        self.sock.sendall(json.dumps({"execute": name, "arguments": args}).encode() + b"\n")
        while True:
            msg = self._read()
            if "return" in msg:
                return msg["return"]
            if "error" in msg:
                raise GuestError(f"QMP {name}: {msg['error'].get('desc')}")

    def close(self):
        self.sock.close()


class Guest:
    """One qemu process. Serial 0 is the console, serial 1 the truth channel, serial 2
    the output of a live run."""

    def __init__(self, kernel, initrd: Path, workdir: Path, cmdline: str, mem_mb=512,
                 disks=(), kvm=False):
        self.workdir = workdir
        self.console = workdir / "console.log"
        self.truth = workdir / "truth.jsonl"
        self.live_out = workdir / "live.out"
        self.qmp_path = workdir / "qmp.sock"
        for p in (self.console, self.truth, self.live_out, self.qmp_path):
            p.unlink(missing_ok=True)
        accel = ["-accel", "kvm", "-cpu", "host"] if kvm else ["-accel", "tcg", "-cpu", TCG_CPU]
        self.argv = ["qemu-system-x86_64", *accel, "-m", str(mem_mb), "-smp", "1",
                     "-kernel", kernel["vmlinuz"], "-initrd", str(initrd),
                     "-append", f"console=ttyS0 panic=-1 quiet loglevel=4 {cmdline}",
                     "-display", "none", "-monitor", "none", "-no-reboot",
                     "-serial", f"file:{self.console}", "-serial", f"file:{self.truth}",
                     "-serial", f"file:{self.live_out}",
                     "-device", "vmcoreinfo", "-qmp", f"unix:{self.qmp_path},server=on,wait=off"]
        for d in disks:
            ro = ",readonly=on" if d.get("readonly") else ""
            self.argv += ["-drive", f"file={d['path']},if=virtio,format=raw{ro}"]
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                     stdout=open(workdir / "qemu.log", "wb"),
                                     stderr=subprocess.STDOUT)
        self.qmp = None

    def tail(self, n=25):
        try:
            lines = self.console.read_text(errors="replace").splitlines()
        except OSError:
            lines = []
        qemu = (self.workdir / "qemu.log").read_text(errors="replace").strip()
        return "\n".join(lines[-n:] + ([f"[qemu] {qemu}"] if qemu else []))

    def wait_for(self, marker: str, timeout: float):
        """Wait until the console shows `marker`; a panic, MZ-FAIL, qemu exiting or the
        timeout raise GuestError with the console's tail."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.console.read_text(errors="replace") if self.console.exists() else ""
            if marker in text:
                return text
            why = None
            if "Kernel panic" in text:
                why = "guest kernel panicked"
            elif "MZ-FAIL" in text:
                why = "guest workload failed"
            elif self.proc.poll() is not None:
                why = f"qemu exited with status {self.proc.returncode}"
            elif time.monotonic() > deadline:
                why = f"guest not ready after {timeout:.0f} s (waiting for {marker})"
            if why:
                self.kill()
                raise GuestError(f"{why}; console tail:\n{self.tail()}")
            time.sleep(0.5)

    def connect(self):
        for _ in range(100):
            try:
                self.qmp = QMP(self.qmp_path)
                return self.qmp
            except (FileNotFoundError, ConnectionRefusedError):
                time.sleep(0.1)
        raise GuestError("cannot connect to qemu's QMP socket")

    def stop(self):
        """Pause the guest's CPUs for good. dump-guest-memory pauses only while it
        writes and resumes a guest that was running, so the dumps of a running guest
        show different memory; a guest stopped first stays stopped through every dump
        (qemu resumes only what it paused itself)."""
        qmp = self.qmp or self.connect()
        qmp.cmd("stop")
        if qmp.cmd("query-status").get("running"):
            raise GuestError("guest still running after QMP stop")

    def dump(self, dest: Path, fmt: str):
        """fmt: 'elf' (paging: true, which drgn needs) or 'kdump-zlib'."""
        qmp = self.qmp or self.connect()
        dest.unlink(missing_ok=True)
        if fmt == "elf":
            qmp.cmd("dump-guest-memory", paging=True, protocol=f"file:{dest}")
        else:
            qmp.cmd("dump-guest-memory", paging=False, protocol=f"file:{dest}", format=fmt)
        return dest

    def kill(self):
        if self.qmp:
            try:
                self.qmp.cmd("quit")
            except (GuestError, OSError):
                pass
            self.qmp.close()
            self.qmp = None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.qmp_path.unlink(missing_ok=True)


def boot(kernel, initrd, workdir, cmdline, ready="MZ-READY", timeout=900, **kw):
    """Boot and wait for `ready`. With MZ_KVM=1 try KVM first and fall back to TCG."""
    if os.environ.get("MZ_KVM") == "1" and os.path.exists("/dev/kvm"):
        g = Guest(kernel, initrd, workdir, cmdline, kvm=True, **kw)
        try:
            g.wait_for(ready, min(timeout, 120))
            return g
        except GuestError as e:
            print(f"[guest] KVM failed, falling back to TCG: {str(e).splitlines()[0]}")
    g = Guest(kernel, initrd, workdir, cmdline, **kw)
    g.wait_for(ready, timeout)
    return g
