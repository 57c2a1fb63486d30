# Many zombies (MZ_BULK, default 1000): each cgroup leaves one tmpfs page behind and,
# with MZ_SLAB=N (`make bench`), N negative dentries: slab objects charged to its objcg.
# zhog does the loop (mkdir, a child that joins and writes, the cgroup recorded as
# mz_record does, rmdir): a shell loop spawns ~10 processes per cgroup, ~45 s per
# thousand under TCG.
mkdir -p $SHM/bulk $DISK/neg
mz_mkcg bulk
echo +memory > $MZ/bulk/cgroup.subtree_control
zhog bulk "${MZ_BULK:-1000}" $MZ/bulk $SHM/bulk $DISK/neg "${MZ_SLAB:-0}" "$MZ_TRUTH" \
	"$STATE/$SCENARIO.removed" || echo "MZ-FAIL: zhog bulk"
