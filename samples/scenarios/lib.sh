# Shared helpers for scenario scripts, sourced by the guest's /init (busybox sh).
#
# Every scenario makes cgroups under /sys/fs/cgroup/mz/$SCENARIO and records ground
# truth as JSON lines on $MZ_TRUTH (the guest's second serial port). The host only
# collects those lines: nothing in the truth is computed outside the guest.

CG=/sys/fs/cgroup
MZ=$CG/mz
SHM=/mnt/shm     # tmpfs for shmem page cache
DISK=/mnt/disk   # ext4 on virtio-blk: page cache with paths, cgroup writeback
STATE=/run/mz    # per-scenario bookkeeping (removed cgroups)

truth() { echo "$1" > "$MZ_TRUTH"; }

# "key value" lines (memory.stat, cgroup.stat) as a JSON object.
kv_json() {
	awk 'BEGIN { printf "{" } { printf "%s\"%s\":%s", (NR > 1 ? "," : ""), $1, $2 } END { printf "}" }' "$1"
}

# mz_mkcg REL: create $MZ/REL with the memory controller, enabling it on the way down.
mz_mkcg() {
	local p=$MZ/$1
	echo +memory > "${p%/*}/cgroup.subtree_control"
	mkdir "$p"
}

# mz_run REL CMD...: run CMD (in the foreground) charged to cgroup REL.
mz_run() {
	local cg=$MZ/$1
	shift
	sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg" "$@"
}

# mz_spawn REL READYFILE CMD...: start CMD in the background in cgroup REL and wait until
# it created READYFILE (its memory is charged). Prints nothing; the pid is in READYFILE.
mz_spawn() {
	local cg=$MZ/$1 ready=$2 i=0
	shift 2
	sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg" "$@" &
	while [ ! -s "$ready" ]; do
		i=$((i + 1))
		[ $i -gt 600 ] && { echo "MZ-FAIL: $* never got ready"; return 1; }
		sleep 0.1
	done
}

# mz_to_root PID: move a task out of its cgroup; its charges stay behind (cgroup v2).
mz_to_root() { echo "$1" > $CG/cgroup.procs; }

# mz_record REL PINNER [FILE...]: record cgroup REL as it is now, with the files it wrote.
mz_record() {
	local rel=$1 pinner=$2 cg=$MZ/$1 files="" f swap
	shift 2
	for f in "$@"; do
		files="$files${files:+,}{\"path\":\"$f\",\"bytes\":$(stat -c %s "$f"),\"fs\":\"$(stat -f -c %T "$f")\"}"
	done
	swap=$(cat "$cg/memory.swap.current" 2>/dev/null || echo null)
	truth "{\"kind\":\"cgroup\",\"scenario\":\"$SCENARIO\",\"path\":\"/mz/$rel\",\"cgroup_id\":$(stat -c %i "$cg"),\"pinner\":\"$pinner\",\"memory_current\":$(cat "$cg/memory.current"),\"memory_swap_current\":$swap,\"memory_stat\":$(kv_json "$cg/memory.stat"),\"files\":[$files]}"
}

# mz_rmdir REL: remove cgroup REL (it becomes a zombie if something still pins it).
mz_rmdir() {
	rmdir "$MZ/$1" || { echo "MZ-FAIL: rmdir $1"; return 1; }
	echo "/mz/$1" >> "$STATE/$SCENARIO.removed"
	truth "{\"kind\":\"rmdir\",\"scenario\":\"$SCENARIO\",\"path\":\"/mz/$1\"}"
}

# mz_settle: wait until the root's cgroup.stat stops changing (offlining and releasing
# run from workqueues after rmdir), at most ~30 s.
mz_settle() {
	local prev="" cur i=0
	while [ $i -lt 15 ]; do
		cur=$(cat $CG/cgroup.stat)
		[ "$cur" = "$prev" ] && return 0
		prev=$cur
		i=$((i + 1))
		sleep 2
	done
}

# mz_verdicts SCENARIO: record the scenario parent's cgroup.stat and, where it decides
# the question, whether each removed cgroup is dying: all of them when the kernel counts
# as many dying descendants as were removed, none when it counts zero.
mz_verdicts() {
	local s=$1 top=$MZ/$1 n total v basis p
	truth "{\"kind\":\"stat\",\"scenario\":\"$s\",\"path\":\"/mz/$s\",\"cgroup_stat\":$(kv_json $top/cgroup.stat)}"
	# Removed cgroups: counted by nr_dying_descendants.
	if [ -f "$STATE/$s.removed" ]; then
		total=$(wc -l < "$STATE/$s.removed")
		n=$(awk '$1 == "nr_dying_descendants" { print $2 }' $top/cgroup.stat)
		v=$(verdict "$n" "$total")
		while read -r p; do
			truth "{\"kind\":\"state\",\"scenario\":\"$s\",\"path\":\"$p\",\"dying\":$v,\"basis\":\"nr_dying_descendants=$n of $total removed\"}"
		done < "$STATE/$s.removed"
	fi
	# Live cgroups whose memory css was killed: nr_dying_subsys_memory (6.11+) counts them.
	if [ -f "$STATE/$s.killed" ]; then
		total=$(wc -l < "$STATE/$s.killed")
		n=$(awk '$1 == "nr_dying_subsys_memory" { print $2 }' $top/cgroup.stat)
		if [ -n "$n" ]; then
			v=$(verdict "$n" "$total")
			basis="nr_dying_subsys_memory=$n of $total killed"
		else
			v=null
			basis="cgroup.stat has no nr_dying_subsys_memory (before 6.11)"
		fi
		while read -r p; do
			truth "{\"kind\":\"state\",\"scenario\":\"$s\",\"path\":\"$p\",\"dying\":$v,\"memcg_only\":true,\"basis\":\"$basis\"}"
		done < "$STATE/$s.killed"
	fi
}

# verdict COUNTED TOTAL: true if all are dying, false if none, null if it cannot tell which.
verdict() {
	if [ "$1" -eq "$2" ]; then echo true
	elif [ "$1" -eq 0 ]; then echo false
	else echo null
	fi
}
