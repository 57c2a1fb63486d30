"""Reading the debug info without failing: a missing type, member or symbol is an
answer (this kernel lacks it), not an error."""

import re
from typing import Optional

from drgn import FaultError, Object, Program, Type, TypeKind


def find_type(prog: Program, name: str) -> Optional[Type]:
    """``prog.type(name)``, None when absent."""
    try:
        return prog.type(name)
    except LookupError:
        return None


def has_member(prog: Program, type_name: str, member: str) -> bool:
    """Whether ``type_name`` exists and has ``member`` (False when either is missing)."""
    t = find_type(prog, type_name)
    if t is None:
        return False
    try:
        return t.has_member(member)
    except (LookupError, TypeError):
        return False


def member_type(t: Optional[Type], member: str) -> Optional[Type]:
    """The type of ``t.member``, typedefs resolved; None when absent."""
    if t is None or not t.has_member(member):
        return None
    return strip_typedef(t.member(member).type)


def strip_typedef(t: Type) -> Type:
    while t.kind == TypeKind.TYPEDEF:
        t = t.type
    return t


def byte_offset(t: Optional[Type], member: str) -> Optional[int]:
    """``offsetof(t, member)``, None when absent."""
    try:
        return t.member(member).bit_offset // 8 if t is not None else None
    except LookupError:
        return None


def bit_offset(t: Optional[Type], member: str) -> Optional[int]:
    """The bit offset of ``t.member`` (a bit field's), None when absent."""
    try:
        return t.member(member).bit_offset if t is not None else None
    except LookupError:
        return None


def constant(prog: Program, name: str) -> Optional[int]:
    """An enumerator or variable's value; None if absent or unreadable (a damaged or
    filtered dump must not stop the layout from being learned)."""
    try:
        return prog[name].value_()
    except (LookupError, ValueError, FaultError):
        return None


def find_object(prog: Program, name: str) -> Optional[Object]:
    """A variable or function, None when absent."""
    try:
        return prog[name]
    except KeyError:
        return None


def has_symbol(prog: Program, name: str) -> bool:
    """Whether the ELF symbol table has ``name`` (a variable without debug info too)."""
    try:
        prog.symbol(name)
        return True
    except LookupError:
        return False


def static_key_count(prog: Program, name: str) -> Optional[int]:
    """A static key's ``key.enabled.counter`` (> 0: on), None when unreadable."""
    try:
        return prog[name].key.enabled.counter.value_()
    except (LookupError, AttributeError, ValueError, FaultError):
        return None


def vmcoreinfo_number(prog: Program, name: str) -> Optional[int]:
    """NUMBER(name) of the kernel's own VMCOREINFO note (vmcoreinfo_data, v4.13+),
    or None. drgn 0.0.22 does not expose these numbers itself."""
    try:
        size = prog["vmcoreinfo_size"].value_()
        text = prog.read(prog["vmcoreinfo_data"].value_(), min(size, 1 << 16))
    except (LookupError, FaultError, ValueError):
        return None
    m = re.search(rb"^NUMBER\(" + re.escape(name.encode()) + rb"\)=(-?\d+)$", text, re.M)
    return int(m.group(1)) if m else None
