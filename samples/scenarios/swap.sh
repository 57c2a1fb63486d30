# Swap entries: 16 MiB of anon squeezed into 2 MiB (memory.max), so most of it is
# swapped out with the cgroup's id in swap_cgroup; the process then leaves the cgroup.
mz_mkcg swap
mz_mkcg swap/leaf
mz_spawn swap/leaf /run/swap.ready zhog anon 16 /run/swap.ready
echo 2M > $MZ/swap/leaf/memory.max
mz_record swap/leaf swap
mz_to_root "$(cat /run/swap.ready)"
mz_rmdir swap/leaf
