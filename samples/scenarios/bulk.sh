# Many zombies (MZ_BULK, default 1000): each cgroup leaves one tmpfs page behind and,
# with MZ_SLAB=N (`make bench`), N negative dentries: slab objects charged to its objcg.
mkdir -p $SHM/bulk $DISK/neg
mz_mkcg bulk
i=0
while [ $i -lt "${MZ_BULK:-1000}" ]; do
	z=z$i
	mz_mkcg bulk/$z
	mz_run bulk/$z sh -c "echo $z > $SHM/bulk/$z"
	[ "${MZ_SLAB:-0}" -gt 0 ] && mz_run bulk/$z zhog dentries "$MZ_SLAB" $DISK/neg/$z-
	mz_record bulk/$z shmem $SHM/bulk/$z
	mz_rmdir bulk/$z
	i=$((i + 1))
done
