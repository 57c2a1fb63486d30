# Cgroups named the way real hosts name them, leaked by family: each leaf leaves one
# tmpfs page behind (as a bulk zombie does) and is removed. Families (truth "family"):
#   transient   system.slice/run-r<32 hex>.scope            (systemd-run)
#   transient-u system.slice/run-u<N>.scope                 (systemd-run --scope, older)
#   instance    system.slice/system-worker.slice/worker@<N>.service   (template units)
#   docker      system.slice/docker-<64 hex>.scope           (docker, systemd driver)
#   session     user.slice/user-<UID>.slice/session-<N>.scope  (two UIDs, logind)
#   user-app    user.slice/user-<UID>.slice/user@<UID>.service/app.slice/app-term-<N>.scope
#   containerd  kubepods.slice/kubepods-burstable.slice/
#               kubepods-burstable-pod<uid, _ for ->.slice/cri-containerd-<64 hex>.scope
#   crio        kubepods.slice/kubepods-besteffort.slice/
#               kubepods-besteffort-pod<uid, _ for ->.slice/crio-<64 hex>.scope
# The pod slices are removed too (family pod-burstable / pod-besteffort: each held by
# its dying container). Truth records each cgroup's family and the per-instance tokens
# of its name (hex ids, uids, numbers), which no grouping pattern may contain.
# Cgroups that stay alive: the slices, and one unit made after every leak
# (system.slice/late.service), newer than all of them.
mkdir -p $SHM/hosts
N=${MZ_HOSTS:-4}

hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }
uuid() { local h; h=$(hex 16); echo "${h%????????????????????????}-$(echo "$h" | cut -c9-12)-$(echo "$h" | cut -c13-16)-$(echo "$h" | cut -c17-20)-$(echo "$h" | cut -c21-32)"; }

# hosts_family REL FAMILY TOKEN...: record REL's family and its per-instance tokens.
hosts_family() {
	local rel=$1 family=$2 tokens="" t
	shift 2
	for t in "$@"; do tokens="$tokens${tokens:+,}\"$t\""; done
	truth "{\"kind\":\"family\",\"path\":\"/mz/$rel\",\"family\":\"$family\",\"tokens\":[$tokens]}"
}

# hosts_leak REL FAMILY TOKEN...: make REL, leave one tmpfs page charged to it, remove it.
hosts_leak() {
	local rel=$1 f
	mz_mkcg "$rel"
	f=$SHM/hosts/$(echo "$rel" | tr / _)
	mz_run "$rel" dd if=/dev/zero of="$f" bs=4k count=1 2>/dev/null
	mz_record "$rel" shmem "$f"
	hosts_family "$@"
	mz_rmdir "$rel"
}

mz_mkcg hosts
for s in system.slice system.slice/system-worker.slice user.slice kubepods.slice \
	kubepods.slice/kubepods-burstable.slice kubepods.slice/kubepods-besteffort.slice; do
	mz_mkcg hosts/$s
done
for uid in 1000 1042; do
	mz_mkcg hosts/user.slice/user-$uid.slice
	mz_mkcg hosts/user.slice/user-$uid.slice/user@$uid.service
	mz_mkcg hosts/user.slice/user-$uid.slice/user@$uid.service/app.slice
done

i=0
while [ $i -lt "$N" ]; do
	i=$((i + 1))
	h=$(hex 16)
	hosts_leak hosts/system.slice/run-r$h.scope transient "$h"
	hosts_leak hosts/system.slice/run-u$((i * 7 + 100)).scope transient-u $((i * 7 + 100))
	hosts_leak hosts/system.slice/system-worker.slice/worker@$i.service instance "$i"
	h=$(hex 32)
	hosts_leak hosts/system.slice/docker-$h.scope docker "$h"
	for uid in 1000 1042; do
		hosts_leak hosts/user.slice/user-$uid.slice/session-$((i * 3 + uid % 7)).scope session \
			"$uid" $((i * 3 + uid % 7))
		hosts_leak hosts/user.slice/user-$uid.slice/user@$uid.service/app.slice/app-term-$((i + 40)).scope \
			user-app "$uid" $((i + 40))
	done
	for qos in burstable:cri-containerd:containerd besteffort:crio:crio; do
		q=${qos%%:*} rest=${qos#*:}
		prefix=${rest%%:*} family=${rest#*:}
		u=$(uuid | tr - _)
		pod=hosts/kubepods.slice/kubepods-$q.slice/kubepods-$q-pod$u.slice
		mz_mkcg "$pod"
		h=$(hex 32)
		hosts_leak "$pod/$prefix-$h.scope" "$family" "$u" "$h"
		mz_record "$pod" children
		hosts_family "$pod" "pod-$q" "$u"
		mz_rmdir "$pod"
	done
done
# A unit started after every leak: a live cgroup newer than all of them.
mz_mkcg hosts/system.slice/late.service
