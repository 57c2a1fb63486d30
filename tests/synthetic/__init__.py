"""
Synthetic drgn programs
-----------------------

Kernels 4.x-5.8 are not available as real packages here, so their code paths
are exercised with programs whose types and memory are built through drgn's
own API: :class:`Builder` declares structs by ``(name, size, [(member, type,
offset)])``, places objects in a fake memory map, and answers drgn's type and
object lookups from what was declared. Nothing here is read from a real
kernel: every test that uses it is a *synthetic* test.

Works with drgn 0.0.22 (``add_type_finder(fn(kind, name, filename))``) and
0.3 (``register_type_finder`` / ``register_object_finder``).

>>> b = Builder()
>>> b.struct("list_head", 16, [("next", "struct list_head *", 0),
...                            ("prev", "struct list_head *", 8)])
>>> head = b.var("some_list", "struct list_head")
>>> b.list_init(head)
"""

import re
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import drgn
from drgn import FindObjectFlags, Object, Program, Type, TypeEnumerator, TypeKind, TypeMember

__all__ = ("Builder", "PLATFORM", "HEAP")

PLATFORM = drgn.Platform(drgn.Architecture.X86_64,
                         drgn.PlatformFlags.IS_64_BIT | drgn.PlatformFlags.IS_LITTLE_ENDIAN)

#: Where allocations go (x86-64 direct map).
HEAP = 0xFFFF888000000000
HEAP_SIZE = 1 << 22

TypeSpec = Union[str, Type]
Member = Tuple[str, TypeSpec, int]  # (name, type, byte offset)

_PATH = re.compile(r"([A-Za-z_][A-Za-z_0-9]*)|\[(\d+)\]|\.")


class Builder:
    """A drgn program with declared types and a sparse little-endian memory map."""

    def __init__(self, heap: int = HEAP, heap_size: int = HEAP_SIZE) -> None:
        self.prog = prog = Program(PLATFORM)
        self._types: Dict[Tuple[TypeKind, str], Type] = {}
        self._objects: Dict[str, Tuple[str, Callable[[], Object]]] = {}
        self._regions: List[Tuple[int, bytearray]] = []
        self.add_region(heap, heap_size)
        self._brk = heap
        if hasattr(prog, "register_type_finder"):  # drgn 0.3
            prog.register_type_finder("synthetic", self._find_type_kinds, enable_index=0)
            prog.register_object_finder("synthetic", self._find_object, enable_index=0)
        else:  # drgn 0.0.22
            prog.add_type_finder(self._find_type)
            prog.add_object_finder(self._find_object)
        self.typedef("bool", "_Bool")  # the kernel's typedef

    # -- drgn callbacks --------------------------------------------------------
    def _find_type(self, kind, name, filename):
        return self._types.get((kind, name))

    def _find_type_kinds(self, prog, kinds, name, filename):
        for kind in kinds:
            t = self._types.get((kind, name))
            if t is not None:
                return t
        return None

    def _find_object(self, prog, name, flags, filename):
        entry = self._objects.get(name)
        if entry is None:
            return None
        what, make = entry
        want = {"constant": FindObjectFlags.CONSTANT, "variable": FindObjectFlags.VARIABLE}[what]
        return make() if flags & want else None

    # -- types ---------------------------------------------------------------------
    def type(self, spec: TypeSpec) -> Type:
        """A declared type, or any C type name drgn can parse from declared ones."""
        return spec if isinstance(spec, Type) else self.prog.type(spec)

    def struct(self, name: str, size: int, members: Sequence[Member],
               kind: str = "struct") -> Type:
        """
        Declare ``struct name`` (or a union with ``kind="union"``). Members may
        overlap (anonymous unions are flattened); member types are resolved
        lazily, so structs can point at each other in any order. A member given
        as ``(name, type, offset, bits)`` is a bit field at ``offset * 8 + bit``.
        """
        tms = []
        for m in members:
            mname, spec, offset = m[0], m[1], m[2]
            if len(m) == 4:  # (name, type, byte offset, (bit, width))
                bit, width = m[3]
                tms.append(TypeMember(Object(self.prog, self.type(spec), bit_field_size=width),
                                      mname, offset * 8 + bit))
            else:
                tms.append(TypeMember(lambda spec=spec: self.type(spec), mname, offset * 8))
        make = self.prog.union_type if kind == "union" else self.prog.struct_type
        t = make(name, size, tms)
        self._types[(TypeKind.UNION if kind == "union" else TypeKind.STRUCT, name)] = t
        return t

    def typedef(self, name: str, target: TypeSpec) -> Type:
        t = self.prog.typedef_type(name, self.type(target))
        self._types[(TypeKind.TYPEDEF, name)] = t
        return t

    def enum(self, name: Optional[str], enumerators: Iterable[Tuple[str, int]],
             size: int = 4, signed: bool = False) -> Type:
        """Declare an enum; its enumerators become constants (``prog["PG_lru"]``)."""
        compat = self.prog.int_type("int" if signed else "unsigned int", size, signed)
        enumerators = list(enumerators)
        t = self.prog.enum_type(name, compat, [TypeEnumerator(n, v) for n, v in enumerators])
        if name is not None:
            self._types[(TypeKind.ENUM, name)] = t
        for n, v in enumerators:
            self.constant(n, t, v)
        return t

    def sizeof(self, spec: TypeSpec) -> int:
        return drgn.sizeof(self.type(spec))

    # -- objects ---------------------------------------------------------------------
    def constant(self, name: str, spec: TypeSpec, value: int) -> None:
        self._objects[name] = ("constant", lambda: Object(self.prog, self.type(spec), value))

    def var(self, name: str, spec: TypeSpec, address: Optional[int] = None,
            **fields: Any) -> int:
        """A global ``name`` (allocated unless ``address`` is given); returns its address."""
        if address is None:
            address = self.alloc(spec)
        self._objects[name] = ("variable",
                               lambda: Object(self.prog, self.type(spec), address=address))
        if fields:
            self.put(address, spec, fields)
        return address

    def alloc(self, spec: Union[TypeSpec, int], align: int = 64) -> int:
        """Zeroed memory for one object of a type (or a byte count) on the heap."""
        size = spec if isinstance(spec, int) else self.sizeof(spec)
        self._brk = (self._brk + align - 1) & ~(align - 1)
        address = self._brk
        self._brk += max(size, 1)
        return address

    def new(self, spec: TypeSpec, fields: Optional[Dict[str, Any]] = None) -> int:
        """Allocate one object and set ``fields`` ({"a.b[2]": value}); returns its address."""
        address = self.alloc(spec)
        if fields:
            self.put(address, spec, fields)
        return address

    def string(self, s: Union[str, bytes]) -> int:
        data = s.encode() if isinstance(s, str) else s
        address = self.alloc(len(data) + 1, align=8)
        self.write(address, data + b"\0")
        return address

    def obj(self, address: int, spec: TypeSpec) -> Object:
        return Object(self.prog, self.type(spec), address=address)

    def field(self, address: int, spec: TypeSpec, path: str) -> Object:
        """The member ``path`` ("css.refcnt.count.counter", "entries[3]") of an object."""
        o = self.obj(address, spec)
        for name, index in _PATH.findall(path):
            if name:
                o = o.member_(name)
            elif index:
                o = o[int(index)]
        return o

    def addr(self, address: int, spec: TypeSpec, path: str) -> int:
        """Address of a member of the object at ``address``."""
        return self.field(address, spec, path).address_

    def put(self, address: int, spec: TypeSpec, fields: Dict[str, Any]) -> None:
        """Write integer/pointer (or bytes) members of the object at ``address``."""
        for path, value in fields.items():
            o = self.field(address, spec, path)
            if isinstance(value, (bytes, bytearray)):
                self.write(o.address_, bytes(value))
                continue
            size = drgn.sizeof(o.type_)
            if o.bit_field_size_:
                bits, width = o.bit_offset_, o.bit_field_size_
                word = int.from_bytes(self.read(o.address_, 8), "little")
                mask = ((1 << width) - 1) << bits
                word = (word & ~mask) | ((value << bits) & mask)
                self.write(o.address_, word.to_bytes(8, "little"))
                continue
            self.write(o.address_, (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little"))

    # -- lists ---------------------------------------------------------------------
    def list_init(self, head: int) -> None:
        self.write_u64(head, head)
        self.write_u64(head + 8, head)

    def list_add_tail(self, node: int, head: int) -> None:
        prev = self.read_u64(head + 8)
        self.write_u64(node, head)
        self.write_u64(node + 8, prev)
        self.write_u64(prev, node)
        self.write_u64(head + 8, node)

    # -- memory ----------------------------------------------------------------------
    def add_region(self, base: int, size: int) -> None:
        """Map ``size`` zeroed bytes at ``base``."""
        buf = bytearray(size)
        self._regions.append((base, buf))

        def read(address, count, offset, physical, buf=buf):
            return bytes(buf[offset:offset + count])

        self.prog.add_memory_segment(base, size, read)

    def _region(self, address: int, size: int) -> Tuple[bytearray, int]:
        for base, buf in self._regions:
            if base <= address and address + size <= base + len(buf):
                return buf, address - base
        raise ValueError(f"{address:#x}+{size} is not in a synthetic memory region")

    def write(self, address: int, data: bytes) -> None:
        buf, off = self._region(address, len(data))
        buf[off:off + len(data)] = data

    def read(self, address: int, size: int) -> bytes:
        buf, off = self._region(address, size)
        return bytes(buf[off:off + size])

    def write_u64(self, address: int, value: int) -> None:
        self.write(address, (value & (2**64 - 1)).to_bytes(8, "little"))

    def read_u64(self, address: int) -> int:
        return int.from_bytes(self.read(address, 8), "little")
