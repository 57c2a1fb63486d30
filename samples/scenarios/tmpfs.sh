# Page cache on tmpfs (shmem): a 4 MiB file written from the cgroup outlives it.
mz_mkcg tmpfs
mz_mkcg tmpfs/leaf
mz_run tmpfs/leaf dd if=/dev/zero of=$SHM/tmpfs-cache.bin bs=1M count=4 2>/dev/null
mz_record tmpfs/leaf shmem $SHM/tmpfs-cache.bin
mz_rmdir tmpfs/leaf
