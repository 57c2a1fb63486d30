# Sockets held only by a process's open files: a UDP socket with an unread datagram and a
# UNIX stream pair with unread data, created in the cgroup, whose process then moved to
# the root cgroup. Truth: the socket inodes, read from the process's fd links.
mz_mkcg sock
mz_mkcg sock/leaf
mz_spawn sock/leaf /run/sock.ready zhog sockets /run/sock.ready
pid=$(cat /run/sock.ready)
inodes=$(for f in /proc/$pid/fd/*; do readlink "$f"; done |
	sed -n 's/^socket:\[\([0-9]*\)\]$/\1/p' | tr '\n' ',' | sed 's/,$//')
truth "{\"kind\":\"sockets\",\"scenario\":\"sock\",\"path\":\"/mz/sock/leaf\",\"pid\":$pid,\"inodes\":[$inodes]}"
mz_record sock/leaf socket
mz_to_root "$pid"
mz_rmdir sock/leaf
