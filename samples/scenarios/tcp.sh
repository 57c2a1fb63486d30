# A TCP socket pair with unread data, created in the cgroup (sk->sk_memcg), whose
# process then moved to the root cgroup.
mz_mkcg tcp
mz_mkcg tcp/leaf
mz_spawn tcp/leaf /run/tcp.ready zhog tcp 7777 /run/tcp.ready
mz_record tcp/leaf socket
mz_to_root "$(cat /run/tcp.ready)"
mz_rmdir tcp/leaf
