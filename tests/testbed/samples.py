"""The sample outputs in the docs, produced from a real test-bed run.

A fenced block right after a marker line is a sample, rewritten by this script:

    <!-- sample: --top 8 --groups 6 -->            memcg-zombies on the 6.1 kdump case
    <!-- sample crash: zombies | head -12; zombies -p /mz/ext4/leaf -->  crash 8.0.2

`python3 -m tests.testbed.samples` rewrites them from the current index's 6.1 case;
`--check` says which samples no longer have the shape of what the code prints
(tests/test_samples.py): values differ from build to build (addresses, ids, counts,
timings) and so does the order of equal things, so both sides are compared as the
multiset of their words, every number and hex address masked.
"""

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import List, Tuple

from . import build, cache

DOCS = [cache.PROJECT / "docs" / "report.md", cache.PROJECT / "docs" / "crash.md"]
MARKER = re.compile(r"^<!-- sample( crash)?: (.*) -->$")
KERNEL = "6.1"


def _case() -> dict:
    index = json.loads(build.index_path().read_text())
    return next(c for c in index["cases"] if c["kernel"] == KERNEL)


def _home(text: str) -> str:
    return text.replace(str(cache.root()), "~/.cache/memcg-zombies")


def run_cli(args: str) -> str:
    c = _case()
    argv = [sys.executable, "-m", "memcg_zombies", "-c", c["vmcores"]["kdump"],
            "-s", c["vmlinux"], *args.split()]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    return f"$ memcg-zombies -c vmcore.kdump -s vmlinux {args}\n" + _home(out)


SEPARATOR = "@@mz-sample@@"


def run_crash(commands: str) -> str:
    from tests.test_crash import kernel_offset  # the one place that knows crash's flags

    c = _case()
    so = cache.PROJECT / "libhelper" / "build" / "zombies.so"
    cmds = [x.strip() for x in commands.split(";")]
    script = [f"extend {so}"] + [f"echo {SEPARATOR}\n{cmd}" for cmd in cmds] + \
        [f"echo {SEPARATOR}", "exit"]
    offset = kernel_offset(c["vmcores"]["kdump"])
    r = subprocess.run(["crash", "--kaslr", "0x" + offset, "-s", c["vmlinux"],
                        c["vmcores"]["kdump"]], input="\n".join(script) + "\n",
                       capture_output=True, text=True, check=True)
    # crash echoes no command in batch mode: the separators split its output.
    parts = r.stdout.split(SEPARATOR + "\n")
    loaded = parts[0].strip().splitlines()[-1].replace(str(so), "libhelper/build/zombies.so")
    out = [f"$ crash --kaslr 0x{offset} -s vmlinux vmcore.kdump",
           "crash> extend libhelper/build/zombies.so", loaded.lstrip("./")]
    for cmd, chunk in zip(cmds, parts[1:]):
        out += [f"crash> {cmd}", chunk.rstrip("\n")]
    return "\n".join(out) + "\n"


def blocks(text: str) -> List[Tuple[int, int, bool, str]]:
    """(first line, end line, crash?, args) of each sample block (lines of the fence)."""
    lines = text.splitlines()
    found = []
    for i, line in enumerate(lines):
        m = MARKER.match(line)
        if m and i + 1 < len(lines) and lines[i + 1] == "```":
            end = lines.index("```", i + 2)
            found.append((i + 1, end, bool(m.group(1)), m.group(2)))
    return found


def produce(crash: bool, args: str) -> str:
    return run_crash(args) if crash else run_cli(args)


def shape(text: str) -> str:
    """What stays the same from build to build: the words, not the values nor their
    order (sockets and files come in hash order, lines wrap where numbers' widths say)."""
    text = re.sub(r"0x[0-9a-f]+|\b[0-9a-f]{12,}\b", "ADDR", text)
    text = re.sub(r"\d[\d,.]*", "N", text)
    return " ".join(sorted(text.split()))


def rewrite(path: Path) -> None:
    lines = path.read_text().splitlines()
    for start, end, crash, args in reversed(blocks(path.read_text())):
        lines[start + 1:end] = produce(crash, args).rstrip("\n").splitlines()
    path.write_text("\n".join(lines) + "\n")


def stale(path: Path) -> List[str]:
    """Samples of `path` whose shape differs from what the code prints now."""
    lines = path.read_text().splitlines()
    bad = []
    for start, end, crash, args in blocks(path.read_text()):
        have = "\n".join(lines[start + 1:end])
        if shape(have) != shape(produce(crash, args)):
            bad.append(f"{path.name}: sample `{args}` (line {start + 1})")
    return bad


def main(argv: List[str]) -> int:
    if "--check" in argv:
        bad = [s for p in DOCS for s in stale(p)]
        print("\n".join(bad) or "samples current")
        return 1 if bad else 0
    for p in DOCS:
        rewrite(p)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
