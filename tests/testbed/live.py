"""Run a command inside a test-bed guest against its own /proc/kcore.

Debian cloud kernels have no 9p, so the tools travel on read-only ext4 images over
virtio-blk: one with the host's Debian python3, python3-drgn (and the shared libraries
they load) and this project, one with the kernel's debug vmlinux. The guest's /init
mounts them at /live and /live/vmlinux, chroots and runs /run-live; its output comes
back on the third serial port.

    python3 -m tests.testbed.live --kernel 6.1 -- memcg-zombies --format json
"""

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

from . import build, cache, guest, initramfs, kernels

HOST_PY = "/usr/bin/python3"


def guest_python():
    """The interpreter whose drgn the guest runs: the caller's when it is Debian's
    python3 (directly or through the project's virtualenv, whose PyPI drgn then goes
    along), else Debian's python3 with python3-drgn."""
    if os.path.realpath(sys.executable).startswith("/usr/bin/python3"):
        return sys.executable
    return HOST_PY


def _ldd(path):
    out = subprocess.run(["ldd", path], capture_output=True, text=True).stdout
    return set(re.findall(r"(/\S+) \(0x", out))


def _copy(src, root: Path):
    dest = root / src.lstrip("/")
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(os.path.realpath(src), dest)


def _python_paths():
    out = subprocess.run([guest_python(), "-c", "import json, sys, sysconfig, _drgn; print(json.dumps("
                          "[sys.executable, sysconfig.get_paths()['stdlib'], _drgn.__file__,"
                          " __import__('drgn').__path__[0]]))"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def tool_image(dest: Path, script: str):
    """An ext4 image holding Debian's python3 + drgn, the project, busybox and /run-live."""
    root = dest.with_suffix(".d")
    shutil.rmtree(root, ignore_errors=True)
    exe, stdlib, drgn_so, drgn_pkg = _python_paths()
    # A PyPI wheel's vendored libraries sit beside it (drgn.libs): same absolute paths
    # in the image keep its $ORIGIN lookups working.
    libs = _ldd(exe) | _ldd(drgn_so)
    for ext in Path(stdlib, "lib-dynload").glob("*.so"):  # readline, ssl, ... for drgn.cli
        libs |= _ldd(str(ext))
    for lib in libs:
        _copy(lib, root)
    _copy(os.path.realpath(exe), root)
    if not (root / "usr/bin/python3").exists():
        os.symlink(os.path.basename(os.path.realpath(exe)), root / "usr/bin/python3")
    shutil.copytree(stdlib, root / stdlib.lstrip("/"), symlinks=True,
                    ignore=shutil.ignore_patterns("test", "tests", "idlelib", "tkinter",
                                                  "ensurepip", "__pycache__", "lib2to3"))
    _copy(drgn_so, root)
    site = os.path.dirname(drgn_pkg)
    for pkg in ("drgn", "_drgn_util"):  # _drgn_util: drgn >= 0.0.27's helpers' helpers
        if os.path.isdir(os.path.join(site, pkg)):
            shutil.copytree(os.path.join(site, pkg), root / site.lstrip("/") / pkg,
                            ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(cache.PROJECT / "analyzers" / "memcg_zombies", root / "opt/mz/memcg_zombies",
                    ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    (root / "bin").mkdir(exist_ok=True)
    shutil.copy(initramfs.BUSYBOX, root / "bin/busybox")
    os.symlink("busybox", root / "bin/sh")
    for d in ("proc", "sys", "dev", "tmp", "vmlinux"):
        (root / d).mkdir(exist_ok=True)
    (root / "run-live").write_text(f"export PYTHONPATH=/opt/mz:{site}\n" + script)
    size = cache.du(root) * 5 // 4 + (16 << 20)
    dest.unlink(missing_ok=True)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-d", str(root), str(dest), f"{size >> 10}k"], check=True,
                   stdout=subprocess.DEVNULL)
    shutil.rmtree(root)
    return dest


def vmlinux_image(kernel):
    """The debug vmlinux on an ext4 image, built once per kernel."""
    img = Path(kernel["vmlinux"]).with_name("vmlinux.ext4")
    if img.exists():
        return img
    root = img.with_suffix(".d")
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir()
    os.link(kernel["vmlinux"], root / "vmlinux")
    size = os.path.getsize(kernel["vmlinux"]) * 11 // 10 + (16 << 20)
    tmp = img.with_suffix(".tmp")
    subprocess.run(["mkfs.ext4", "-q", "-F", "-d", str(root), str(tmp), f"{size >> 10}k"], check=True,
                   stdout=subprocess.DEVNULL)
    shutil.rmtree(root)
    tmp.rename(img)
    return img


def run(kernel, argv, workdir: Path, bulk=50, timeout=900):
    """Boot `kernel` with every scenario, then run `argv` (a memcg-zombies command line
    or any command) in the guest. Returns (exit status, output, truth manifest)."""
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    cmd = " ".join(shlex.quote(a) for a in argv)
    if argv and argv[0] == "memcg-zombies":
        cmd = "python3 -m memcg_zombies.cli -s /vmlinux/vmlinux " + \
            " ".join(shlex.quote(a) for a in argv[1:])
    script = f"export PYTHONDONTWRITEBYTECODE=1 PATH=/usr/bin:/bin\n{cmd}\n"
    tools = tool_image(workdir / "tools.ext4", script)
    disks = build.make_disks(workdir) + [{"path": tools, "readonly": True},
                                         {"path": vmlinux_image(kernel), "readonly": True}]
    initrd = initramfs.build(kernel, kernels.GUEST_MODULES, workdir / "initrd.gz")
    cmdline = f"mz.scenarios={','.join(build.SCENARIOS)} mz.bulk={bulk} mz.live=1"
    g = guest.boot(kernel, initrd, workdir, cmdline, disks=disks, timeout=timeout)
    try:
        text = g.wait_for("MZ-LIVE-DONE", timeout)
    finally:
        g.kill()
    rc = int(re.search(r"MZ-LIVE-DONE rc=(\d+)", text).group(1))
    truth = build.assemble_truth(g.truth.read_text().splitlines(), kernel)
    return rc, g.live_out.read_text(errors="replace"), truth


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kernel", default="6.1", help="series (default 6.1)")
    ap.add_argument("--bulk", type=int, default=50)
    ap.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    kernel = kernels.ensure(args.kernel)
    t = time.monotonic()
    try:
        rc, out, _ = run(kernel, command or ["memcg-zombies"], cache.path("live") / args.kernel,
                         bulk=args.bulk)
    except guest.GuestError as e:
        print(f"testbed: {e}", file=sys.stderr)
        return 1
    sys.stdout.write(out)
    print(f"[live] {kernel['abi']}: exit {rc} after {time.monotonic() - t:.0f} s", file=sys.stderr)
    return rc


if __name__ == "__main__":
    sys.exit(main())
