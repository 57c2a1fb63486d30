# Dentries and inodes (slab objects): 1000 empty tmpfs files and 1000 negative dentries.
# Since 5.9 (objcg) these are reparented at offline, so the cgroup may be freed.
mkdir -p $SHM/slab
mz_mkcg slab
mz_mkcg slab/leaf
mz_run slab/leaf sh -c 'i=0; while [ $i -lt 1000 ]; do : > '$SHM'/slab/f$i; [ -e '$DISK'/nonexistent-$i ]; i=$((i + 1)); done'
mz_record slab/leaf slab
mz_rmdir slab/leaf
