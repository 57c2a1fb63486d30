"""
The typed report model (memcg_zombies.report) against the JSON schema
(analyzers/memcg_zombies/schema.json): per JSON object, every field of the model's
class is in the schema (or is named here as written under other keys) and every
schema property is one the model writes; reports of the synthetic eras validate; the
Python API prints addresses in hex and goes back from a zombie to its drgn Object.
Fast lane: no vmcore.
"""

import json
from dataclasses import fields
from pathlib import Path

import pytest

from memcg_zombies.report import (BpfPin, CacheRefcnt, ChildPin, CostPart, Fault, FileRef,
                                  FrozenNote, Group, HeldBy, Holder, KmemCachePin, MemcgCost,
                                  MemcgEntry, MemcgState, PageCounter, PagePin, Pin, Process,
                                  ReparentablePin, Reparented, Reparenting, ScanStats, SlabPin, SocketPin,
                                  Source, Stat, StockPin, StockSlot, Summary, SwapPin,
                                  WritebackPin, Zombie)

SCHEMA = json.loads((Path(__file__).parents[1] / "analyzers" / "memcg_zombies"
                     / "schema.json").read_text())

ADDR = 0xffff888003d4c000
REP = Reparented("0xffff888000001000", 8192)


def _entry():
    return MemcgEntry(ADDR, "/mz/a", 42, 7, "dying", 0, True, 3, 0, None, 2, False)


def _state():
    return MemcgState(ADDR, 3, True, "atomic", 5, 1, True, "mem_cgroup_idr",
                      {"memory": PageCounter(3, 9, 0)}, {"NR_SHMEM": Stat(1, 1, "pages", 4096)},
                      "how", {0: {"NR_SHMEM": 1}}, FrozenNote(["MEMCG_KMEM"], ["MEMCG_SWAP"], "x"))


def _cost():
    return MemcgCost("estimate", 4, 1, True, [CostPart("struct mem_cgroup", 2000, 1, 2048,
                                                       "kmalloc")])


#: Per kind, pins with every optional part filled in (and each alternative key).
PINS = {
    "page_detail": [
        PagePin("shmem", "/f (tmpfs)", 2, "pages", 8192, 2, REP, charged_via="memcg",
                owner="0x10", mapping="0x20", file=FileRef("0x30", 12, "tmpfs", "/f", "/mnt/shm/f", "tmpfs"),
                dirty=1, writeback=0, folios=2),
        PagePin("kmem", "kmem pages", 1, "pages", 4096, 0, charged_via="objcg", owner="0x40",
                folios=1),
        PagePin("anon", "anonymous memory", 5, "pages", 20480, 5, charged_via="memcg",
                owner="0x10", folios=5, mapped_by=[Process(10, "zhog")])],
    "slab_detail": [SlabPin("slab", "dentry", 3, "objects", 576, 0, REP, cache="0x50",
                            object_size=192, objcgs=["0x40"])],
    "kmem_cache_detail": [KmemCachePin("kmem_cache", "dentry(7:a)", 1, "objects", 0, 0, REP,
                                       cache="0x60", memcg="0x70", root_cache="0x80",
                                       deactivated=True, refcnt=CacheRefcnt(3, True, 3))],
    "socket_detail": [SocketPin("socket", "TCP 127.0.0.1:7777", 1, "objects", 100, 1,
                                sock="0x90", state="ESTABLISHED", forward_alloc=1,
                                rmem_alloc=2, wmem_queued=3,
                                holders=[Holder(10, "zhog", 3, 1234)])],
    "swap_detail": [SwapPin("swap", "swap entries on /dev/vdb", 4, "entries", 16384, 1,
                            memcg_id=5, id_ref=4, devices={"/dev/vdb": 4})],
    "cgwb_detail": [WritebackPin("cgwb", "cgroup writeback on 254:0", 1, "objects", 0, 1,
                                 wb="0xa0", bdi="254:0", state=["WB_registered"],
                                 on_offline_cgwbs=True, inodes={"b_dirty": 1},
                                 blkcg_css="0xb0")],
    "stock_detail": [StockPin("stock", "per-CPU charge stock on CPU 0", 1, "refs", 4096, 1,
                              slots=[StockSlot(0, "memcg", 4096)])],
    "child_detail": [ChildPin("child", "/mz/a/b", 1, "refs", 0, 1, memcg="0xc0",
                              state="dying")],
    "bpf_map_detail": [BpfPin("bpf_map", "bpf map 3 m", 1, "objects", 0, 1, map="0xd0",
                              charged_via="memcg")],
}

#: Fields the JSON writes under other keys, or not as an object of its own.
WRITTEN_AS = {
    Zombie: {"entry": {"address", "path", "cgroup_id", "css_id", "refcnt"}},
    ReparentablePin: {"reparented": {"pins", "reparented_to"}},
    PagePin: {"file": {"inode", "ino", "fs", "path", "full_path", "device"}, "owner": {"memcg", "objcg"},
              "reparented": {"page_bytes"}},
    SlabPin: {"reparented": {"object_bytes"}},
    KmemCachePin: {"reparented": {"slab_bytes"}},
    CacheRefcnt: {"count": {"refcnt"}, "dead": {"refcnt_dead"}},
}


def _schema(pointer):
    node = SCHEMA
    for part in pointer.lstrip("#/").split("/"):
        node = node[part]
    return node


def _props(pointer):
    return set(_schema(pointer)["properties"])


def _fields_written(cls, keys):
    """Each field of cls is a JSON key, or named in WRITTEN_AS with its keys."""
    for f in fields(cls):
        if f.name in keys:
            continue
        written = next((WRITTEN_AS[c][f.name] for c in cls.__mro__
                        if f.name in WRITTEN_AS.get(c, {})), None)
        assert written is not None, f"{cls.__name__}.{f.name} is in no JSON key"
        assert written & keys or not keys, (cls.__name__, f.name, written)


@pytest.mark.parametrize("obj, pointer", [
    (Fault("x", "y", ADDR), "#/$defs/fault"),
    (_entry(), "#/$defs/memcg"),
    (Zombie(_entry(), pins=PINS["swap_detail"], reparenting=[Reparenting("objcg", "unknown", "")],
            state=_state(), cost=_cost()), "#/$defs/zombie"),
    (Reparenting("objcg", "reparented", "why", {"ancestor": "0x1"}), "#/$defs/reparenting"),
    (_state(), "#/$defs/state"),
    (PageCounter(1, 2, 3), "#/$defs/page_counter"),
    (Stat(1, 1, "pages", 4096), "#/$defs/stat"),
    (FrozenNote([], [], "x"), "#/$defs/frozen"),
    (_cost(), "#/$defs/cost"),
    (CostPart("struct cgroup", 1, 1, 8, "kmalloc"), "#/$defs/cost_part"),
], ids=lambda x: x if isinstance(x, str) else "")
def test_objects_match_schema(obj, pointer):
    """The JSON object's keys are the schema's properties, and every field is written."""
    keys = set(obj.to_dict())
    assert keys == _props(pointer), (type(obj).__name__, keys ^ _props(pointer))
    _fields_written(type(obj), keys)


def test_document_parts_match_schema():
    """source, scan, summary and its rows: dataclass fields are the schema's properties."""
    for cls, pointer in ((Source, "#/properties/source"),
                         (ScanStats, "#/properties/source/properties/scan"),
                         (Summary, "#/properties/summary"),
                         (HeldBy, "#/properties/summary/properties/held_by/items"),
                         (Group, "#/properties/summary/properties/groups/items"),
                         (StockSlot, "#/$defs/stock_detail/properties/slots/items")):
        assert {f.name for f in fields(cls)} == _props(pointer), cls.__name__


@pytest.mark.parametrize("kind", sorted(PINS))
def test_pin_details_match_schema(kind):
    """Per kind of pin: its detail keys (every optional part filled) are the schema's,
    every field of its class is written, and the common part is the pin's."""
    pins = PINS[kind]
    keys = set().union(*(p.detail for p in pins))
    assert keys == _props(f"#/$defs/{kind}"), keys ^ _props(f"#/$defs/{kind}")
    for p in pins:
        _fields_written(type(p), keys | set(p.to_dict()))
        assert set(p.to_dict()) == _props("#/$defs/pin")
    assert {f.name for f in fields(Pin)} | {"detail"} == _props("#/$defs/pin")
    if any(isinstance(p, KmemCachePin) for p in pins):
        _fields_written(CacheRefcnt, keys)


def test_pin_details_validate():
    """Each filled-in pin validates as a JSON pin; a detail of the wrong shape does not
    (the schema checks details per kind)."""
    jsonschema = pytest.importorskip("jsonschema")
    pin_schema = {"$ref": "#/$defs/pin", "$defs": SCHEMA["$defs"]}
    for pins in PINS.values():
        for p in pins:
            jsonschema.validate(p.to_dict(), pin_schema)
    bad = PINS["page_detail"][0].to_dict()
    bad["detail"]["folios"] = "2"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, pin_schema)


def test_reprs_print_addresses_in_hex():
    """Issue 15: a memcg's address reads as the kernel prints it."""
    assert "address=0xffff888003d4c000" in repr(_entry())
    assert "address=0xffff888003d4c000" in repr(_state())
    assert "address=0xffff888003d4c000" in repr(Fault("x", "y", ADDR))
    assert "address=None" in repr(Fault("x", "y"))
    assert repr(_entry()).startswith("MemcgEntry(address=0xffff888003d4c000, path='/mz/a'")


def test_synthetic_report_validates_and_goes_back_to_drgn():
    """A report of the synthetic eras validates against the schema, its pins are typed,
    and zombie.memcg(prog) is the drgn Object of the memcg. --format jsonl: every line
    parses and has a type, and the lines put together are exactly the JSON document,
    whose notes are said once."""
    pytest.importorskip("drgn")
    jsonschema = pytest.importorskip("jsonschema")
    from memcg_zombies.analysis import analyze
    from memcg_zombies.render import render_json, render_jsonl
    from memcg_zombies.scan import ScanOptions
    from tests.test_synthetic_eras import era_a_4_19, era_b_5_4

    schema = dict(SCHEMA)
    schema.pop("$id", None)
    for build in (era_a_4_19, era_b_5_4):
        k, a = build()
        report = analyze(k.prog, scan=ScanOptions(engine="python"))
        text = render_json(report)
        doc = json.loads(text)
        jsonschema.validate(doc, schema)
        assert doc == json.loads(json.dumps(report.to_dict()))
        assert jsonl_document(render_jsonl(report)) == doc
        notes = doc["notes"]
        assert doc["schema"] == "memcg-zombies/2" and notes["cost"] and notes["reparenting"]
        for said in (notes["cost"], *notes["reparenting"].values()):
            assert text.count(json.dumps(said)) == 1, said
        assert all("note" not in z["cost"] and "frozen" not in z["state"]
                   for z in doc["zombies"])
        for z in report.zombies:
            assert all(isinstance(p, Pin) and type(p) is not Pin for p in z.pins)
            memcg = z.memcg(k.prog)
            assert memcg.type_.type_name() == "struct mem_cgroup *"
            assert memcg.value_() == z.entry.address
            assert memcg.css.serial_nr.value_() > 0  # it reads the kernel's memory


def test_pin_detail_key_order():
    """The detail keys come in the order the JSON report has always written them."""
    order = {
        "page_detail": ["inode", "ino", "fs", "path", "full_path", "device", "mapping", "charged_via", "memcg", "dirty",
                        "writeback", "folios", "pins", "reparented_to", "page_bytes"],
        "slab_detail": ["cache", "object_size", "objcgs", "pins", "reparented_to",
                        "object_bytes"],
        "kmem_cache_detail": ["cache", "memcg", "root_cache", "deactivated", "refcnt",
                              "refcnt_dead", "slab_pages", "pins", "reparented_to",
                              "slab_bytes"],
        "socket_detail": ["sock", "state", "forward_alloc", "rmem_alloc", "wmem_queued",
                          "holders", "ino"],
        "swap_detail": ["memcg_id", "id_ref", "devices", "on_swap"],
        "cgwb_detail": ["wb", "bdi", "state", "on_offline_cgwbs", "inodes", "blkcg_css"],
        "stock_detail": ["slots"],
        "child_detail": ["memcg", "state"],
        "bpf_map_detail": ["map", "charged_via"],
    }
    for kind, keys in order.items():
        assert list(PINS[kind][0].detail) == keys, kind
    assert list(PINS["page_detail"][1].detail) == ["charged_via", "objcg", "folios"]
    assert list(PINS["page_detail"][2].detail) == ["charged_via", "memcg", "folios", "mapped_by"]
    assert PINS["page_detail"][2].detail["mapped_by"] == [{"pid": 10, "comm": "zhog"}]
    assert list(PINS["stock_detail"][0].detail["slots"][0]) == ["cpu", "cached", "bytes"]
    assert PINS["socket_detail"][0].detail["holders"] == ["pid 10 (zhog) fd 3"]


def jsonl_document(text):
    """The JSON document a --format jsonl output says, line by line: every line one
    object with its type, the header and summary first."""
    lists = {"memcg": "memcgs", "zombie": "zombies", "fault": "faults"}
    doc = {}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        item = json.loads(line)
        kind = item.pop("type")
        if i == 0:
            assert kind == "report", kind
            doc.update(item)
        elif i == 1:
            assert kind == "summary", kind
            doc["summary"] = item
        else:
            doc.setdefault(lists[kind], []).append(item)
    for key in lists.values():
        doc.setdefault(key, [])
    return doc


def with_notes(zombie, notes):
    """A JSON zombie with the texts the report's notes hold put back (schema /1's shape)."""
    z = json.loads(json.dumps(zombie))
    for r in z["reparenting"]:
        r.setdefault("reason", notes["reparenting"].get(r["mechanism"]))
    if z["state"]:
        z["state"].setdefault("stats_method", notes["stats_method"])
        z["state"].setdefault("frozen", notes["frozen"])
    if z["cost"]:
        z["cost"].setdefault("note", notes["cost"])
        for p in z["cost"]["parts"]:
            p.setdefault("how", notes["cost_parts"].get(p["name"]))
    return z


def _zombie(reason, how="kmalloc"):
    z = Zombie(_entry(), reparenting=[Reparenting("kmem_caches", "not in this kernel",
                                                  "no memcg_params"),
                                      Reparenting("objcg", "reparented", reason)],
               state=_state(), cost=_cost())
    z.cost.parts[0].how = how
    return z


def test_kernel_notes_said_once():
    """Texts every zombie shares go to the notes and leave the zombies; one that
    differs stays in each zombie; nothing is lost."""
    from memcg_zombies.report import kernel_notes

    zombies = [_zombie("objcg NULL (1 holder)"), _zombie("objcg NULL (2 holders)", "vmalloc")]
    notes = kernel_notes(zombies)
    assert notes == {"cost": "estimate", "cost_parts": {}, "stats_method": "how",
                     "frozen": {"frozen": ["MEMCG_KMEM"], "live": ["MEMCG_SWAP"],
                                "memory_counter": "x"},
                     "reparenting": {"kmem_caches": "no memcg_params"}}
    for z in zombies:
        d = z.to_dict(notes)
        assert "note" not in d["cost"] and "frozen" not in d["state"]
        assert "stats_method" not in d["state"]
        assert "reason" not in d["reparenting"][0] and "reason" in d["reparenting"][1]
        assert "how" in d["cost"]["parts"][0]  # the two zombies' differ
        assert with_notes(d, notes) == z.to_dict()
    one = kernel_notes(zombies[:1])
    assert one["cost_parts"] == {"struct mem_cgroup": "kmalloc"}
    assert "how" not in zombies[0].to_dict(one)["cost"]["parts"][0]

