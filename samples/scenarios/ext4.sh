# Page cache of files on ext4 (virtio disk): one file written back, one left dirty
# (periodic writeback is off in this guest), so cgroup writeback is involved too.
mkdir -p $DISK/ext4
mz_mkcg ext4
mz_mkcg ext4/leaf
mz_run ext4/leaf dd if=/dev/zero of=$DISK/ext4/clean.bin bs=1M count=2 2>/dev/null
sync
mz_run ext4/leaf dd if=/dev/zero of=$DISK/ext4/dirty.bin bs=64k count=16 2>/dev/null
mz_record ext4/leaf pagecache $DISK/ext4/clean.bin $DISK/ext4/dirty.bin
mz_rmdir ext4/leaf
