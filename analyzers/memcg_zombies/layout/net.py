"""Sockets: which charge a memcg and where TCP listeners hang."""

from dataclasses import dataclass
from typing import Literal, Optional

from drgn import Program

from memcg_zombies.layout.probe import has_member


@dataclass(frozen=True)
class NetLayout:
    #: inet_hashinfo::listening_hash[] (before v5.19), else lhash2 only.
    tcp_listening_hash: bool
    #: The chain head of a struct inet_listen_hashbucket.
    tcp_listen_head: Optional[Literal["nulls_head", "head"]]
    #: sk->sk_memcg (CONFIG_MEMCG).
    has_sk_memcg: bool


def net_layout(prog: Program) -> NetLayout:
    # The chain head of a struct inet_listen_hashbucket: "head" (an
    # hlist_head) until v5.5's 8dbd76e79a16 ("tcp/dccp: fix possible race
    # __inet_lookup_established()") added the nulls_head alias (a union
    # with head; also in 4.19.y and 5.4.y), and v5.19 (cae3873c5b3a) kept
    # only nulls_head. Both start with one pointer.
    head: Optional[Literal["nulls_head", "head"]] = (
        "nulls_head" if has_member(prog, "struct inet_listen_hashbucket", "nulls_head")
        else "head" if has_member(prog, "struct inet_listen_hashbucket", "head") else None)
    return NetLayout(
        # TCP listeners hash: listening_hash[] until v5.19, cae3873c5b3a
        # ("inet: Remove listening_hash"); lhash2 (nulls lists, linked through
        # sk_nulls_node) after. Before, lhash2 links icsk_listen_portaddr_node.
        tcp_listening_hash=has_member(prog, "struct inet_hashinfo", "listening_hash"),
        tcp_listen_head=head,
        # sk->sk_memcg needs CONFIG_MEMCG (socket accounting, v4.5).
        has_sk_memcg=has_member(prog, "struct sock", "sk_memcg"),
    )
