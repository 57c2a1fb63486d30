"""
memcg-zombies: which memory cgroups are dying ("zombies"), what pins each one,
whether the kernel reparented what it could, and what they cost; from a vmcore or
the running kernel.

Usage::

    memcg-zombies [-c VMCORE] [-s VMLINUX] [--format text|json|jsonl|markdown]
                  [--top N] [--cgroup SELECTOR]... [--groups N] [--group-depth N]
                  [--detail] [--all] [--wide] [--no-pins] [--strict] [--version]
    drgn -c VMCORE -s VMLINUX analyzers/memcg_zombies/cli.py [options]
    python3 -m memcg_zombies [options]

Without ``-c`` the running kernel is read through /proc/kcore (root only).

Exit status:

- 0: report written (unreadable parts are listed as faults in the report)
- 1: unexpected internal error (set MEMCG_ZOMBIES_DEBUG=1 for a traceback)
- 2: usage error
- 3: cannot open input: a file is missing or unreadable, the core file is
  not a core dump or is cut short before the kernel's own memory (a dump
  truncated after that gives a partial report), /proc/kcore cannot be opened
- 4: kernel debug info missing, or the vmlinux does not match the kernel
- 5: kernel without memory cgroups (not built in, or disabled at boot)
- 6: a ``--cgroup`` selector matched no dying memcg (the message says what it matched)
- 7: with ``--strict``, the report was written but is partial (it lists faults)
"""

import argparse
import os
import sys

if __name__ == "__main__" and not __package__:
    # Run as a file (drgn's script runner, or python3 analyzers/memcg_zombies/cli.py):
    # import the package from the folder that holds it, not this file's siblings.
    _here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]
    sys.path.insert(0, os.path.dirname(_here))

import drgn  # noqa: E402

from memcg_zombies.progress import QUIET, Progress
from memcg_zombies.analysis import NoMatch, analyze, source_for  # noqa: E402
from memcg_zombies.cgroups import MemcgUnavailable  # noqa: E402
from memcg_zombies.program import (EXIT_INPUT, CliError, check_debug_info,  # noqa: E402
                                   one_line, open_program)
from memcg_zombies.render import (render_markdown, render_text, write_json,  # noqa: E402
                                  write_jsonl)
from memcg_zombies.scan import ScanOptions, engines  # noqa: E402
from memcg_zombies.vmcore import core_truncation, open_vmcore_file, truncated_text  # noqa: E402

__all__ = ("main", "open_program", "check_debug_info", "CliError", "scan_options")

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
# 3 (EXIT_INPUT) and 4 (EXIT_DEBUG_INFO): program.py's, opening the kernel.
EXIT_NO_MEMCG = 5
EXIT_NO_MATCH = 6
EXIT_PARTIAL = 7


def _non_negative(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = -1
    if n < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of zombies (0: all)")
    return n


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return n


def version_text() -> str:
    """The tool, drgn, and the page-scan engines and readers this installation has."""
    from memcg_zombies import __version__

    if "c" in engines():
        built = "python, c (C readers: drgn, libkdumpfile for vmcore files)"
    else:
        built = ("python (the C engine is not built: it needs libkdumpfile-dev when "
                   "the package is built)")
    return (f"memcg-zombies {__version__}\n"
            f"drgn {getattr(drgn, '__version__', 'unknown')}\n"
            f"page-scan engines: {built}\n")


class _Version(argparse.Action):
    def __init__(self, option_strings, dest, **kw):
        super().__init__(option_strings, dest, nargs=0, help=kw.get("help"))

    def __call__(self, parser, namespace, values, option_string=None):
        sys.stdout.write(version_text())
        parser.exit()


def _parser(script: bool) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="memcg-zombies",
        description="Dying (zombie) memory cgroups: what pins each one, whether "
                    "reparenting happened, what they cost.",
    )
    p.add_argument("--version", action=_Version,
                   help="the tool's, drgn's version and the engines available, then exit")
    if not script:
        p.add_argument("-c", "--core", metavar="VMCORE",
                       help="vmcore to read (default: the running kernel via /proc/kcore)")
        p.add_argument("-s", "--symbols", metavar="VMLINUX",
                       help="kernel debug info (default: drgn's search)")
    p.add_argument("--format", choices=("text", "json", "jsonl", "markdown"), default="text",
                   help="text (default), markdown (for a bug tracker), json (every "
                        "memcg, zombie and fault, schema memcg-zombies/2) or jsonl (the "
                        "same, one object per line with its \"type\": report, summary, "
                        "then memcg, zombie, fault); --top, --detail and --all do not "
                        "apply to json or jsonl")
    p.add_argument("--top", type=_non_negative, metavar="N",
                   help="text, markdown: show the N zombies pinning the most memory "
                        "(0: all; default 20)")
    p.add_argument("--cgroup", action="append", metavar="SELECTOR",
                   help="explain only the dying memcgs selected: a path (/a/b), a glob "
                        "(/a/*), a cgroup id, css:ID or a memcg address (0x...); "
                        "repeatable; one that selects none is an error (exit 6)")
    p.add_argument("--detail", action="store_true",
                   help="text: each zombie's pins, refcount, reparenting, counters, cost")
    p.add_argument("--all", action="store_true", help="text: also list every memcg")
    p.add_argument("--groups", type=_non_negative, metavar="N",
                   help="text: show the N groups (leaks by name pattern) pinning the most "
                        "(0: all; default 10)")
    p.add_argument("--group-depth", type=_positive, metavar="N",
                   help="cut group patterns after N names (/a/b/c at 2: /a/b)")
    p.add_argument("--wide", action="store_true",
                   help="text: one line per zombie, however wide (default: 80 columns)")
    p.add_argument("--strict", action="store_true",
                   help="exit 7 when the report is partial (memory that could not be read)")
    p.add_argument("--quiet", action="store_true",
                   help="no progress on stderr (shown only on a terminal, for phases "
                        "over 2 s)")
    p.add_argument("--no-pins", action="store_true",
                   help="only list memcgs and their state (no page scan)")
    p.add_argument("--scanner", choices=("auto", "python", "c"), default="auto",
                   help="page-scan engine (default: the C engine when built)")
    p.add_argument("--threads", type=_positive, metavar="N",
                   help="C engine: read the vmcore with N independent libkdumpfile "
                        "readers, decompressing in parallel (default: the usable CPUs)")
    return p


#: Options that only some formats honour; given with another format they are refused.
_FORMAT_OPTIONS = {"top": ("text", "markdown"), "detail": ("text",), "all": ("text",),
                   "wide": ("text",), "groups": ("text",)}


def _check_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse what would be silently ignored: an option its format does not honour,
    an engine that is not there. parser.error() exits with status 2."""
    for name, formats in _FORMAT_OPTIONS.items():
        if getattr(args, name) not in (None, False) and args.format not in formats:
            parser.error(f"--{name} does not apply to --format {args.format} "
                         f"(only to {' and '.join(formats)})")
    if args.scanner == "c":
        if "c" not in engines():
            parser.error("--scanner c: the C engine is not built in this installation "
                         "(it needs libkdumpfile-dev at build time; `make libhelper`)")
    if args.top is None:
        args.top = 20
    if args.groups is None:
        args.groups = 10


def scan_options(args: argparse.Namespace, core: "str | None") -> ScanOptions:
    """
    How to scan: the engine and threads asked for, and the vmcore the Program reads
    (the C engine then reads it with its own libkdumpfile readers). Run by drgn as a
    script (``drgn -c VMCORE cli.py``), the path is not given: the file drgn keeps
    open is, when there is exactly one.
    """
    return ScanOptions(engine=None if args.scanner == "auto" else args.scanner,
                       threads=args.threads,
                       vmcore=core if core is not None else open_vmcore_file())


def main(argv=None, prog: "drgn.Program | None" = None) -> int:
    """
    Entry point; returns the exit status. With ``prog`` (drgn's script
    runner), the program is used as is and -c/-s are not accepted.
    """
    parser = _parser(prog is not None)
    try:
        args = parser.parse_args(argv)
        _check_options(parser, args)
    except SystemExit as e:  # argparse already printed usage
        return EXIT_OK if e.code == 0 else EXIT_USAGE

    prog_given = prog
    try:
        if prog is None:
            prog = open_program(args.core, args.symbols)
        core = getattr(args, "core", None)
        scan = scan_options(args, core)
        # As a drgn script the vmcore is the one drgn opened (none: the live kernel).
        source = (source_for(core, getattr(args, "symbols", None)) if prog_given is None
                  else source_for(scan.vmcore, None))
        try:
            report = analyze(prog, cgroups=args.cgroup, pins=not args.no_pins, scan=scan,
                             source=source, group_depth=args.group_depth,
                             progress=QUIET if args.quiet else Progress())
        except drgn.FaultError as e:
            # Memory every part of the analysis needs could not be read.
            if os.environ.get("MEMCG_ZOMBIES_DEBUG"):
                raise
            trunc = core_truncation(core) if core else None
            what = f"{truncated_text(trunc)}: " if trunc else ""
            where = core or ("/proc/kcore" if prog_given is None else "the program")
            raise CliError(EXIT_INPUT, f"cannot read the kernel's memory from "
                                       f"{where}: {what}{one_line(e)}")
        if args.format in ("json", "jsonl"):
            (write_json if args.format == "json" else write_jsonl)(report, sys.stdout)
            out = ""
        elif args.format == "markdown":
            out = render_markdown(report, top=args.top)
        else:
            out = render_text(report, top=args.top, detail=args.detail or bool(args.cgroup),
                              listing=args.all or args.no_pins, wide=args.wide,
                              shown_groups=args.groups)
        sys.stdout.write(out)
        sys.stdout.flush()
        if args.strict and report.faults:
            n = len(report.faults)
            print(f"memcg-zombies: partial report: {n} fault{'' if n == 1 else 's'} (--strict)",
                  file=sys.stderr)
            return EXIT_PARTIAL
        return EXIT_OK
    except CliError as e:
        print(f"memcg-zombies: error: {e}", file=sys.stderr)
        return e.status
    except MemcgUnavailable as e:
        print(f"memcg-zombies: error: {e}", file=sys.stderr)
        return EXIT_NO_MEMCG
    except NoMatch as e:
        print(f"memcg-zombies: error: {e}", file=sys.stderr)
        return EXIT_NO_MATCH
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # e.g. | head: stop quietly, and keep Python from complaining at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as e:
        if os.environ.get("MEMCG_ZOMBIES_DEBUG"):
            raise
        print(f"memcg-zombies: internal error: {type(e).__name__}: {one_line(e)}",
              file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    # drgn's script runner defines the global "prog" and leaves script
    # arguments in sys.argv[1:].
    sys.exit(main(sys.argv[1:], globals().get("prog")))
