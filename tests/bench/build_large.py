"""Large test-bed cases for `make bench` only (never for `make test`).

The test bed keeps one case per kernel and deletes a kernel's other cases, so a
large guest must not live in the main cache: each size gets its own cache root
(MZ_CACHE), sharing the extracted kernels with the main one through a symlink.

    python3 -m tests.bench.build_large --mem 16384 [--kernel 6.1] [--bulk 1000] [--slab 1000]
        [--formats kdump,lzo] [--drop elf,d31]

Prints the case record (JSON) on stdout. A 16 GiB guest boots in ~30 s under TCG;
its ELF dump is 17 GB, so `--drop elf` deletes dumps the benchmark will not read.
"""

import argparse
import json
import os
import sys
from pathlib import Path


def bench_root(mem: int) -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(xdg) / "memcg-zombies-bench" / f"mem{mem}"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mem", type=int, required=True, help="guest RAM in MiB")
    ap.add_argument("--kernel", default="6.1")
    ap.add_argument("--bulk", type=int, default=1000)
    ap.add_argument("--slab", type=int, default=1000,
                    help="negative dentries per bulk zombie: charged slab objects for the "
                         "slab attribution benchmark (1,000 x 1,000 = 1 M objects)")
    ap.add_argument("--formats", default=",".join(["kdump", "elf", "d31"]),
                    help="dumps to make: kdump, elf, d31 (makedumpfile -c -d 31), "
                         "lzo (makedumpfile -l -d 31, RHEL's default)")
    ap.add_argument("--drop", default="", help="dump formats to delete after the build")
    args = ap.parse_args(argv)

    main_root = None
    from tests.testbed import cache
    main_root = cache.root()
    root = bench_root(args.mem)
    root.mkdir(parents=True, exist_ok=True)
    for shared in ("kernels", "debs", "apt"):
        link = root / shared
        if not link.exists() and (main_root / shared).exists():
            link.symlink_to(main_root / shared)
    os.environ["MZ_CACHE"] = str(root)

    from tests.testbed import build, kernels
    kernel = kernels.ensure(args.kernel)
    rec = build.build_case(kernel, args.bulk, args.mem, args.slab, args.formats.split(","))
    for fmt in filter(None, args.drop.split(",")):
        p = rec["vmcores"].pop(fmt, None)
        if p and os.path.exists(p):
            os.unlink(p)
    if args.drop:
        (Path(rec["truth"]).parent / "case.json").write_text(json.dumps(rec, indent=2))
    json.dump(rec, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
