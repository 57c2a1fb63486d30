"""
Opening the kernel to analyse: a drgn :class:`~drgn.Program` for a vmcore or the
running kernel, with the kernel's debug info loaded and checked against the
memory image. Every failure is a :class:`CliError` of one line with the exit
status :mod:`memcg_zombies.cli` documents. Same calls on drgn 0.0.22 and 0.3.
"""

import contextlib
import logging

import drgn

from memcg_zombies.vmcore import (InputError, check_readable, core_truncation, truncated_text,
                                  vmlinux_release)

__all__ = ("CliError", "EXIT_INPUT", "EXIT_DEBUG_INFO", "open_program", "check_debug_info",
           "one_line")

#: cannot open input (cli.py's exit status 3)
EXIT_INPUT = 3
#: kernel debug info missing or not the kernel's (cli.py's exit status 4)
EXIT_DEBUG_INFO = 4


class CliError(Exception):
    """An error to report in one line, with its exit status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def one_line(e: BaseException) -> str:
    if isinstance(e, OSError) and e.strerror:
        text = e.strerror + (f": {e.filename}" if e.filename else "")
    else:
        text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _check_input(path: str, what: str) -> None:
    try:
        check_readable(path, what)
    except InputError as e:
        raise CliError(EXIT_INPUT, str(e))


def open_program(core: "str | None", vmlinux: "str | None") -> drgn.Program:
    """
    A drgn program for ``core`` (or the running kernel) with ``vmlinux``
    (or drgn's default search) loaded and checked. Raises :class:`CliError`.
    Same calls on drgn 0.0.22 and 0.3.
    """
    if core:
        _check_input(core, "vmcore")
    if vmlinux:
        _check_input(vmlinux, "vmlinux")

    prog = drgn.Program()
    try:
        if core:
            prog.set_core_dump(core)
        else:
            prog.set_kernel()
    except Exception as e:
        raise CliError(
            EXIT_INPUT, f"cannot open {core or '/proc/kcore'}: {one_line(e)}"
        )

    with _drgn_log() as log:
        try:
            if vmlinux:
                prog.load_debug_info([vmlinux])
            else:
                prog.load_default_debug_info()
        except drgn.MissingDebugInfoError:
            # Also raised when only some modules lack debug info, which does
            # not matter here (memcg is built in): check_debug_info() decides.
            pass
        except Exception as e:
            raise CliError(
                EXIT_DEBUG_INFO,
                f"cannot load debug info from {vmlinux or 'default locations'}: {one_line(e)}",
            )
    trunc = core_truncation(core) if core else None
    try:
        check_debug_info(prog, vmlinux)
    except CliError as e:
        if trunc and isinstance(e.__cause__, drgn.FaultError):
            # Not the vmlinux's fault: the kernel's own memory is not in the file.
            raise CliError(EXIT_INPUT, f"cannot read the kernel from {core}: "
                                       f"{truncated_text(trunc)} ({one_line(e.__cause__)})")
        if log:  # drgn 0.3 says why it ignored a file
            raise CliError(e.status, f"{e} (drgn: {one_line(Exception(log[0]))})")
        raise
    return prog


@contextlib.contextmanager
def _drgn_log():
    """
    Collect what drgn (0.3+) logs instead of letting it print: the error
    must stay on one line. Yields the list of messages.
    """
    logger = logging.getLogger("drgn")
    messages = []

    class Collect(logging.Handler):
        def emit(self, record):
            if record.levelno >= logging.WARNING:
                messages.append(record.getMessage())

    saved = logger.handlers[:], logger.propagate
    logger.handlers[:] = [Collect()]
    logger.propagate = False
    try:
        yield messages
    finally:
        logger.handlers[:], logger.propagate = saved


def check_debug_info(prog: drgn.Program, vmlinux: "str | None" = None) -> str:
    """
    Check that the kernel's debug info is loaded and matches the memory
    image; return the release. The VMCOREINFO OSRELEASE (drgn's
    ``UTS_RELEASE``) comes from the dump; ``init_uts_ns`` is read at the
    address the vmlinux gives, so a different build reads garbage there.
    """
    source = vmlinux or "the default debug info locations"
    try:
        uts = prog["init_uts_ns"]
    except KeyError:
        dumped, built = _dump_release(prog), vmlinux_release(vmlinux) if vmlinux else None
        if dumped and built and dumped != built:
            raise CliError(EXIT_DEBUG_INFO, f"{vmlinux} does not match the kernel: "
                                            f"the dump is {dumped}, this vmlinux is {built}")
        raise CliError(EXIT_DEBUG_INFO, f"no kernel debug info found in {source}"
                                        + (f" (the dump is {dumped})" if dumped else ""))
    try:
        release = uts.name.release.string_().decode(errors="replace")
    except drgn.FaultError as e:
        raise CliError(
            EXIT_DEBUG_INFO,
            f"{source} does not match the kernel (or the dump is damaged): "
            f"cannot read init_uts_ns ({one_line(e)})",
        ) from e
    expected = _dump_release(prog)
    if expected is not None and release != expected:
        built = vmlinux_release(vmlinux) if vmlinux else None
        raise CliError(
            EXIT_DEBUG_INFO,
            f"{source} does not match the kernel: the dump is {expected}, "
            + (f"this vmlinux is {built}" if built else f"init_uts_ns reads {ascii(release)}"),
        )
    return release


def _dump_release(prog: drgn.Program) -> "str | None":
    """The release the dump's VMCOREINFO names (OSRELEASE), None without one."""
    try:
        return prog["UTS_RELEASE"].string_().decode(errors="replace")
    except (KeyError, LookupError, drgn.FaultError, ValueError):
        return None
