# Anonymous memory of a process that moved out of the cgroup before it was removed.
mz_mkcg anon
mz_mkcg anon/leaf
mz_spawn anon/leaf /run/anon.ready zhog anon 16 /run/anon.ready
mz_record anon/leaf anon
mz_to_root "$(cat /run/anon.ready)"
mz_rmdir anon/leaf
