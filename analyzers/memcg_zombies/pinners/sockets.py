"""
Sockets charged to a dying memcg
--------------------------------

mem_cgroup_sk_alloc() sets ``sk->sk_memcg`` with css_tryget(), for sockets
created in the cgroup and for sockets accepted from a listener there; the ref
is dropped only when the socket is destructed (mem_cgroup_sk_free). So an
open TCP connection keeps its memcg dying after the process moved away, and
its queued data stays charged to it (skmem).

Two walks, merged per socket:

- TCP sockets in the hash tables of every inet_hashinfo (the global
  ``tcp_hashinfo`` and per-netns ehash tables, v6.1 d1e5e6408b30 "tcp:
  Introduce optional per-netns ehash"): established (``ehash``, includes
  accepted sockets not yet accepted by anyone) and listening
  (``listening_hash`` before v5.19, ``lhash2`` after, cae3873c5b3a). Needs
  CONFIG_INET.
- Sockets of every family held by a process's open files (the fd table of
  every thread group on ``init_task.tasks``; a file is a socket when its
  ``f_op`` is ``socket_file_ops``): UDP, UNIX, raw, netlink, TCP bound but
  not connected... Each pin names its holders (pid, comm, fd): who to kill.

Both need CONFIG_MEMCG (``sk_memcg``). Not covered: sockets neither hashed
nor in any fd table (held by the kernel alone, e.g. an orphaned UDP tunnel
socket), and fds passed in flight over a UNIX socket (SCM_RIGHTS).
"""

import socket
from typing import Dict, Iterator, List, Optional, Set, Tuple

from drgn import FaultError, Object, offsetof
from drgn.helpers.linux.net import for_each_net

from memcg_zombies.helpers.lists import list_entries
from memcg_zombies.pinners import Context, Pin, pinner
from memcg_zombies.report import Holder, SocketPin

__all__ = ("tcp_sockets", "task_sockets", "sock_memcg")

#: Sockets per hash chain before the walk is called corrupt: a chain is a
#: handful of sockets (the hash is sized to the socket count).
_MAX_CHAIN = 1 << 16
#: Buckets examined per table (ehash is at most a few million buckets).
_MAX_BUCKETS = 1 << 26

# include/net/tcp_states.h, unchanged since v2.6.
_TCP_STATES = ("", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",
               "TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING",
               "NEW_SYN_RECV")
_TCP_TIME_WAIT = 6
_TCP_NEW_SYN_RECV = 12
#: Thread groups and fds per task before a walk is called corrupt.
_MAX_TASKS = 1 << 22
_MAX_FDS = 1 << 20
# include/linux/net.h enum sock_type, unchanged since v2.6.
_SOCK_TYPES = {1: "stream", 2: "dgram", 3: "raw", 4: "rdm", 5: "seqpacket"}


def sock_memcg(sk: Object) -> int:
    """Address of ``sk->sk_memcg``. Low bits masked: v6.18 started storing
    flags (SK_MEMCG_SOCK_ISOLATED) in bit 0 of the pointer."""
    return sk.sk_memcg.value_() & ~3


def _hashinfos(ctx: Context) -> Iterator[Object]:
    prog = ctx.prog
    seen: Set[int] = set()
    try:
        hi = prog["tcp_hashinfo"].address_of_()
        seen.add(hi.value_())
        yield hi
    except KeyError:
        return  # !CONFIG_INET
    try:
        for net in for_each_net(prog):
            # net->ipv4.tcp_death_row is a struct before v6.1's per-netns
            # ehash and a pointer after; "." works on both in drgn.
            hi = net.ipv4.tcp_death_row.hashinfo.read_()
            if hi and hi.value_() not in seen:
                seen.add(hi.value_())
                yield hi
    except (FaultError, AttributeError) as e:
        ctx.fault("per-netns TCP hash tables", e)


def _heads(ctx: Context, where: str, base: int, count: int, stride: int,
           offset: int) -> Iterator[int]:
    # First-node pointers of count buckets, read in bulk; the hash arrays are
    # large and mostly empty.
    psz = ctx.prog.type("void *").size
    count = min(count, _MAX_BUCKETS)
    chunk = max(1, (1 << 16) // stride)
    for first in range(0, count, chunk):
        n = min(chunk, count - first)
        try:
            raw = ctx.prog.read(base + first * stride, n * stride)
        except FaultError as e:
            ctx.fault(where, e, base + first * stride)
            continue
        for i in range(n):
            start = i * stride + offset
            yield int.from_bytes(raw[start:start + psz], "little")


def _chain(ctx: Context, where: str, pos: int) -> Iterator[int]:
    # An hlist or hlist_nulls chain: ends at NULL or at a nulls marker (bit 0).
    prog = ctx.prog
    seen: Set[int] = set()
    while pos and not pos & 1:
        if pos in seen or len(seen) >= _MAX_CHAIN:
            ctx.fault(where, "hash chain cycle or too long", pos)
            return
        seen.add(pos)
        try:
            following = Object(prog, "struct hlist_nulls_node *", pos).next.value_()
        except FaultError as e:
            ctx.fault(where, e, pos)
            return
        yield pos
        pos = following


def _hashed_socks(ctx: Context, hi: Object) -> Iterator[Object]:
    prog = ctx.prog
    sock = prog.type("struct sock")
    node_off = offsetof(sock, "__sk_common.skc_nulls_node")
    where = f"inet_hashinfo {hi.value_():#x}"
    tables = []
    ehash = prog.type("struct inet_ehash_bucket")
    tables.append(("ehash", hi.ehash.value_(), hi.ehash_mask.value_() + 1, ehash.size,
                   offsetof(ehash, "chain")))
    lbucket = prog.type("struct inet_listen_hashbucket")
    # Both bucket kinds start their chain with one pointer, as hlist_head
    # (.first) or hlist_nulls_head (.first); TCP links sk_nulls_node (same
    # offset as sk_node). layout.net.tcp_listen_head: "head" before v5.5.
    head_off = offsetof(lbucket, ctx.layout.net.tcp_listen_head)
    if ctx.layout.net.tcp_listening_hash:
        listening = hi.listening_hash
        tables.append(("listening_hash", listening.address_of_().value_(), len(listening),
                       lbucket.size, head_off))
    elif hi.lhash2.value_():
        tables.append(("lhash2", hi.lhash2.value_(), hi.lhash2_mask.value_() + 1,
                       lbucket.size, head_off))
    for name, base, count, stride, offset in tables:
        if not base:
            continue
        for head in _heads(ctx, f"{where}.{name}", base, count, stride, offset):
            for node in _chain(ctx, f"{where}.{name}", head):
                yield Object(prog, "struct sock *", node - node_off)


def tcp_sockets(ctx: Context) -> Iterator[Object]:
    """Every TCP socket in the established and listening hash tables (each
    once; per-netns ehash tables share the listening table)."""
    seen: Set[int] = set()
    for hi in _hashinfos(ctx):
        try:
            for sk in _hashed_socks(ctx, hi):
                if sk.value_() not in seen:
                    seen.add(sk.value_())
                    yield sk
        except FaultError as e:
            ctx.fault(f"inet_hashinfo {hi.value_():#x}", e, hi.value_())


def _fd_table(ctx: Context, task: Object) -> Iterator[Tuple[int, int]]:
    # (fd, struct file *) of one task's open files, the array read in bulk.
    prog = ctx.prog
    files = task.files.read_()
    if not files:
        return  # exited, or a kernel thread
    fdt = files.fdt.read_()
    n = min(fdt.max_fds.value_(), _MAX_FDS)
    psz = prog.type("void *").size
    raw = prog.read(fdt.fd.value_(), n * psz)
    for fd in range(n):
        f = int.from_bytes(raw[fd * psz:(fd + 1) * psz], "little")
        if f:
            yield fd, f


def task_sockets(ctx: Context) -> Dict[int, List[Holder]]:
    """``struct sock`` address -> the task fds that hold it, over the open files
    of every thread group (threads share their leader's table but for
    CLONE_FILES-less ones, which are rare and not walked)."""
    prog = ctx.prog
    try:
        sock_fops = prog["socket_file_ops"].address_
    except KeyError:
        return {}  # !CONFIG_NET
    file_t = prog.type("struct file")
    f_op_off, priv_off = offsetof(file_t, "f_op"), offsetof(file_t, "private_data")
    inode_off = offsetof(file_t, "f_inode")
    sk_off = offsetof(prog.type("struct socket"), "sk")
    held: Dict[int, List[Holder]] = {}
    seen_tables: Set[int] = set()
    tasks = list_entries(prog["init_task"].tasks, "struct task_struct", "tasks",
                         "init_task.tasks", _MAX_TASKS, ctx.faults)
    for task in tasks:
        try:
            table = task.files.value_()
            if not table or table in seen_tables:
                continue
            seen_tables.add(table)
            pid = task.pid.value_()
            comm = task.comm.string_().decode(errors="replace")
            fds = list(_fd_table(ctx, task))
        except FaultError as e:
            ctx.fault(f"task {task.value_():#x} open files", e, task.value_())
            continue
        for fd, f in fds:
            try:
                if prog.read_u64(f + f_op_off) != sock_fops:
                    continue
                sock = prog.read_u64(f + priv_off)
                sk = prog.read_u64(sock + sk_off) if sock else 0
                inode = prog.read_u64(f + inode_off)
                ino = Object(prog, "struct inode *", inode).i_ino.value_() if inode else None
            except FaultError as e:
                ctx.fault(f"pid {pid} fd {fd}", e, f)
                continue
            if sk:
                held.setdefault(sk, []).append(Holder(pid, comm, fd, ino))
    return held


def _addr(sk: Object, family: int, v6: str, v4: str) -> str:
    common = sk.__sk_common
    if family == socket.AF_INET6:
        raw = _u8s_bytes(getattr(common, v6).in6_u.u6_addr8)
        return "[" + socket.inet_ntop(socket.AF_INET6, raw) + "]"
    raw = getattr(common, v4).value_().to_bytes(4, "little")  # __be32 read as LE int
    return socket.inet_ntop(socket.AF_INET, raw)


def _u8s_bytes(u8s: Object) -> bytes:
    return bytes(b.value_() for b in u8s)


def _describe(sk: Object, state: int) -> str:
    common = sk.__sk_common
    family = common.skc_family.value_()
    name = _TCP_STATES[state] if 0 < state < len(_TCP_STATES) else f"state {state}"
    local = f"{_addr(sk, family, 'skc_v6_rcv_saddr', 'skc_rcv_saddr')}:{common.skc_num.value_()}"
    if state == 10:  # LISTEN
        return f"TCP {local} ({name})"
    dport = socket.ntohs(common.skc_dport.value_())
    remote = f"{_addr(sk, family, 'skc_v6_daddr', 'skc_daddr')}:{dport}"
    return f"TCP {local} -> {remote} ({name})"


def _describe_other(sk: Object) -> str:
    # A socket found through a file: its protocol's name (struct proto.name,
    # "UDP", "UNIX", "RAW", "NETLINK"...), addresses for inet ones.
    common = sk.__sk_common
    family = common.skc_family.value_()
    proto = common.skc_prot.name.string_().decode(errors="replace")
    if family in (socket.AF_INET, socket.AF_INET6) and proto not in ("TCP", "TCPv6"):
        local = f"{_addr(sk, family, 'skc_v6_rcv_saddr', 'skc_rcv_saddr')}:{common.skc_num.value_()}"
        dport = socket.ntohs(common.skc_dport.value_())
        if dport:
            return f"{proto} {local} -> {_addr(sk, family, 'skc_v6_daddr', 'skc_daddr')}:{dport}"
        return f"{proto} {local}"
    kind = _SOCK_TYPES.get(sk.sk_type.value_(), f"type {sk.sk_type.value_()}")
    # v5.15+ names UNIX protos by type ("UNIX-STREAM"): do not say it twice.
    return f"{proto} socket" if kind.upper() in proto else f"{proto} {kind} socket"


def _skmem(sk: Object) -> Dict[str, int]:
    # sk_rmem_alloc is #define sk_backlog.rmem_alloc.
    mem = {}
    for key, get in (("forward_alloc", lambda: sk.sk_forward_alloc.value_()),
                     ("rmem_alloc", lambda: sk.sk_backlog.rmem_alloc.counter.value_()),
                     ("wmem_queued", lambda: sk.sk_wmem_queued.value_())):
        try:
            mem[key] = get()
        except (FaultError, AttributeError):
            pass
    return mem


def _pin(sk: Object, what: str, state: Optional[str], held: List[Holder]) -> Pin:
    mem = _skmem(sk)
    return SocketPin("socket", what, 1, "objects", bytes=max(0, sum(mem.values())), css_refs=1,
                     sock=hex(sk.value_()), state=state, forward_alloc=mem.get("forward_alloc"),
                     rmem_alloc=mem.get("rmem_alloc"), wmem_queued=mem.get("wmem_queued"),
                     holders=held)


@pinner("sockets")
def visit(ctx: Context) -> Iterator[Tuple[int, Pin]]:
    if not ctx.layout.net.has_sk_memcg or not ctx.zombies:
        return  # !CONFIG_MEMCG: sockets hold no memcg
    held = task_sockets(ctx)
    hashed: Set[int] = set()
    for sk in tcp_sockets(ctx):
        hashed.add(sk.value_())
        try:
            state = sk.__sk_common.skc_state.value_()
            # Timewait and request socks are not full sockets: no sk_memcg.
            if state in (_TCP_TIME_WAIT, _TCP_NEW_SYN_RECV):
                continue
            memcg = sock_memcg(sk)
            if memcg not in ctx.zombies:
                continue
            what = _describe(sk, state)
        except FaultError as e:
            ctx.fault(f"sock {sk.value_():#x}", e, sk.value_())
            continue
        yield memcg, _pin(sk, what, _TCP_STATES[state] if state < len(_TCP_STATES) else state,
                          held.get(sk.value_(), []))
    for addr, holders in held.items():
        if addr in hashed:
            continue
        sk = Object(ctx.prog, "struct sock *", addr)
        try:
            memcg = sock_memcg(sk)
            if memcg not in ctx.zombies:
                continue
            if sk.__sk_common.skc_prot.name.string_() in (b"TCP", b"TCPv6"):
                # Not hashed: bound but neither listening nor connected, or closed.
                state = sk.__sk_common.skc_state.value_()
                what = _describe(sk, state)
                st = _TCP_STATES[state] if state < len(_TCP_STATES) else state
            else:
                what, st = _describe_other(sk), None
        except FaultError as e:
            ctx.fault(f"sock {addr:#x}", e, addr)
            continue
        yield memcg, _pin(sk, what, st, holders)
