"""Files: cgroup writeback structures and how an inode is named."""

from dataclasses import dataclass
from typing import Literal, Tuple

from drgn import Program

from memcg_zombies.layout.probe import has_member, has_symbol


@dataclass(frozen=True)
class FsLayout:
    #: Dying bdi_writebacks are moved to the list offline_cgwbs (v5.14).
    has_offline_cgwbs: bool
    #: struct bdi_writeback::memcg_css (CONFIG_CGROUP_WRITEBACK).
    has_cgwb: bool
    #: The inode lists of a bdi_writeback this kernel has.
    wb_inode_lists: Tuple[str, ...]
    #: struct backing_dev_info::dev_name, the bdi's name kept past unregister.
    bdi_dev_name: bool
    #: The member of struct dentry that links it on its inode's i_dentry.
    dentry_alias: Literal["d_u.d_alias", "d_alias"]


def fs_layout(prog: Program) -> FsLayout:
    return FsLayout(
        # Dying cgroup writeback structures are moved to the list
        # offline_cgwbs in v5.14, c22d70a162d3 ("writeback, cgroup: release
        # dying cgwbs by switching attached inodes"); before, they stay on
        # memcg->cgwb_list (CONFIG_CGROUP_WRITEBACK).
        has_offline_cgwbs=has_symbol(prog, "offline_cgwbs"),
        has_cgwb=has_member(prog, "struct bdi_writeback", "memcg_css"),
        # b_dirty_time since v4.0, a2f4870697a5 ("fs: make sure the timestamps
        # for lazytime inodes eventually get written"); b_attached since
        # v5.14, f3b6a6df38aa ("writeback, cgroup: keep list of inodes
        # attached to bdi_writeback").
        wb_inode_lists=tuple(m for m in ("b_dirty", "b_io", "b_more_io", "b_dirty_time",
                                         "b_attached")
                             if has_member(prog, "struct bdi_writeback", m)),
        # v5.7, 6bd87eec23cb ("bdi: add a ->dev_name field to struct
        # backing_dev_info"; in 4.19.y and 5.4.y too); before, the name is
        # only the device's (bdi->dev->kobj.name).
        bdi_dev_name=has_member(prog, "struct backing_dev_info", "dev_name"),
        # An inode's i_dentry list links dentry->d_u.d_alias since v3.19,
        # 946e51f2bf37 ("move d_rcu from overlapping d_alias to overlapping
        # d_child"); dentry->d_alias before, and again once that union became
        # anonymous (seen in Debian 7.2, d_alias then resolving through it).
        # The release is not settled: 6.18.2's dcache.h still names the union
        # d_u and no later text of it is in the searchable sources.
        dentry_alias=("d_u.d_alias" if has_member(prog, "struct dentry", "d_u")
                      else "d_alias"),
    )
