# A live cgroup for contrast: a process holding anon memory and a tmpfs file it wrote.
mz_mkcg live
mz_mkcg live/app
mz_run live/app dd if=/dev/zero of=$SHM/live.bin bs=1M count=1 2>/dev/null
mz_spawn live/app /run/live.ready zhog anon 4 /run/live.ready
mz_record live/app live $SHM/live.bin
