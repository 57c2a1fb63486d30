# A memcg killed by removing `memory` from subtree_control under a live cgroup: the
# cgroup /mz/subtree/w stays, its memory css goes offline while its tmpfs file pins it.
mz_mkcg subtree
mz_mkcg subtree/w
mz_run subtree/w dd if=/dev/zero of=$SHM/subtree.bin bs=1M count=1 2>/dev/null
mz_record subtree/w shmem $SHM/subtree.bin
echo -memory > $MZ/subtree/cgroup.subtree_control
echo /mz/subtree/w >> "$STATE/$SCENARIO.killed"
truth "{\"kind\":\"memcg_killed\",\"scenario\":\"$SCENARIO\",\"path\":\"/mz/subtree/w\"}"
