# A parent pinned only by its child: the child holds a tmpfs file, both are removed.
mz_mkcg children
mz_mkcg children/parent
mz_mkcg children/parent/child
mz_run children/parent/child dd if=/dev/zero of=$SHM/child.bin bs=1M count=1 2>/dev/null
mz_record children/parent/child shmem $SHM/child.bin
mz_record children/parent children
mz_rmdir children/parent/child
mz_rmdir children/parent
