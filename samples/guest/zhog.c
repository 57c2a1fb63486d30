/*
 * zhog: the guest's pinning workloads, things busybox cannot do by itself.
 *
 *   zhog anon MIB READYFILE   touch MIB of private anonymous memory, then sleep
 *   zhog tcp PORT READYFILE   connect a TCP pair on 127.0.0.1:PORT, queue data the
 *                             receiver never reads (charged socket memory), then sleep
 *   zhog sockets READYFILE    a UDP socket on 127.0.0.1:7778 with an unread datagram
 *                             sent to itself, and a UNIX stream pair with unread data,
 *                             then sleep: sockets held only by this process's files
 *   zhog bulk N CG SHM NEG SLAB TRUTH REMOVED
 *                             N zombies, what samples/scenarios/bulk.sh's loop did
 *                             with ~10 processes each (minutes per thousand under
 *                             TCG): per i, mkdir CG/zI; a child joins it, writes
 *                             "zI" to SHM/zI (one tmpfs page) and looks up SLAB
 *                             names NEG/zI-K; record the cgroup as mz_record does
 *                             (JSON line on TRUTH), rmdir, append its path to REMOVED
 *   zhog dentries N PREFIX    look up N names PREFIX0..PREFIX<N-1> that do not exist:
 *                             N negative dentries charged to the caller's memcg (slab
 *                             objects a shell loop would take minutes to make under TCG)
 *
 * READYFILE is created once the memory is charged, so a scenario can move the process
 * out of its cgroup and rmdir the cgroup while the charge stays behind.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

static void ready(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0) {
		perror(path);
		exit(1);
	}
	dprintf(fd, "%d\n", getpid());
	close(fd);
}

static void sleep_forever(void)
{
	for (;;)
		pause();
}

static int hog_anon(long mib, const char *readyfile)
{
	size_t len = (size_t)mib << 20;
	unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	/* Distinct non-zero bytes per page: no zero page, nothing to merge. */
	for (size_t off = 0; off < len; off += 4096)
		memset(p + off, (int)(off >> 12) | 1, 4096);
	ready(readyfile);
	sleep_forever();
	return 0;
}

static int hog_tcp(int port, const char *readyfile)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int one = 1, l, c, s;
	static char buf[65536];
	long queued = 0;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (l < 0 || bind(l, (void *)&a, sizeof(a)) || listen(l, 1)) {
		perror("listen");
		return 1;
	}
	c = socket(AF_INET, SOCK_STREAM, 0);
	if (c < 0 || connect(c, (void *)&a, sizeof(a))) {
		perror("connect");
		return 1;
	}
	s = accept(l, NULL, NULL);
	if (s < 0) {
		perror("accept");
		return 1;
	}
	/* Fill the receiver's queue (never read) and the sender's, without blocking. */
	fcntl(c, F_SETFL, O_NONBLOCK);
	memset(buf, 'z', sizeof(buf));
	for (int i = 0; i < 64; i++) {
		ssize_t n = write(c, buf, sizeof(buf));

		if (n <= 0)
			break;
		queued += n;
	}
	fprintf(stderr, "zhog tcp: %ld bytes queued\n", queued);
	ready(readyfile);
	sleep_forever();
	return 0;
}

static int hog_sockets(const char *readyfile)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(7778) };
	static char buf[4096];
	int u, pair[2];

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	memset(buf, 's', sizeof(buf));
	u = socket(AF_INET, SOCK_DGRAM, 0);
	if (u < 0 || bind(u, (void *)&a, sizeof(a)) ||
	    sendto(u, buf, 2048, 0, (void *)&a, sizeof(a)) != 2048) {
		perror("udp");
		return 1;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) ||
	    write(pair[0], buf, sizeof(buf)) != (ssize_t)sizeof(buf)) {
		perror("unix");
		return 1;
	}
	ready(readyfile);
	sleep_forever();
	return 0;
}

static int negative_dentries(long n, const char *prefix)
{
	char name[4096];
	struct stat st;

	for (long i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s%ld", prefix, i);
		if (!lstat(name, &st)) {
			fprintf(stderr, "zhog dentries: %s exists\n", name);
			return 1;
		}
	}
	return 0;
}

static long read_long(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = -1;

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/* "key value" lines as a JSON object, as lib.sh's kv_json. */
static void kv_json(FILE *out, const char *path)
{
	FILE *f = fopen(path, "r");
	char key[128];
	long long v;
	int n = 0;

	fputc('{', out);
	while (f && fscanf(f, "%127s %lld", key, &v) == 2)
		fprintf(out, "%s\"%s\":%lld", n++ ? "," : "", key, v);
	fputc('}', out);
	if (f)
		fclose(f);
}

static int bulk(long n, const char *cg, const char *shm, const char *neg, long slab,
		const char *truth, const char *removed)
{
	FILE *t = fopen(truth, "w"), *rm = fopen(removed, "a");
	char dir[512], path[1024], file[512];

	if (!t || !rm) {
		perror("bulk: truth or removed");
		return 1;
	}
	for (long i = 0; i < n; i++) {
		struct stat st, fst;
		struct statfs sf;
		pid_t pid;
		int status;

		snprintf(dir, sizeof(dir), "%s/z%ld", cg, i);
		snprintf(file, sizeof(file), "%s/z%ld", shm, i);
		if (mkdir(dir, 0755)) {
			perror(dir);
			return 1;
		}
		pid = fork();
		if (pid == 0) {
			FILE *p, *f;

			snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
			p = fopen(path, "w");
			if (!p || fprintf(p, "%d\n", getpid()) < 0 || fclose(p))
				_exit(1);
			f = fopen(file, "w");
			if (!f || fprintf(f, "z%ld\n", i) < 0 || fclose(f))
				_exit(1);
			snprintf(path, sizeof(path), "%s/z%ld-", neg, i);
			_exit(slab > 0 ? negative_dentries(slab, path) : 0);
		}
		if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status)) {
			fprintf(stderr, "bulk: child for z%ld failed\n", i);
			return 1;
		}
		if (stat(dir, &st) || stat(file, &fst) || statfs(file, &sf)) {
			perror("bulk: stat");
			return 1;
		}
		fprintf(t, "{\"kind\":\"cgroup\",\"scenario\":\"bulk\",\"path\":\"/mz/bulk/z%ld\","
			"\"cgroup_id\":%llu,\"pinner\":\"shmem\",", i, (unsigned long long)st.st_ino);
		snprintf(path, sizeof(path), "%s/memory.current", dir);
		fprintf(t, "\"memory_current\":%ld,", read_long(path));
		snprintf(path, sizeof(path), "%s/memory.swap.current", dir);
		if (read_long(path) >= 0)
			fprintf(t, "\"memory_swap_current\":%ld,", read_long(path));
		else
			fprintf(t, "\"memory_swap_current\":null,");
		fprintf(t, "\"memory_stat\":");
		snprintf(path, sizeof(path), "%s/memory.stat", dir);
		kv_json(t, path);
		fprintf(t, ",\"files\":[{\"path\":\"%s\",\"bytes\":%lld,\"fs\":\"%s\"}]}\n", file,
			(long long)fst.st_size, sf.f_type == 0x01021994 ? "tmpfs" : "other");
		if (rmdir(dir)) {
			perror(dir);
			return 1;
		}
		fprintf(rm, "/mz/bulk/z%ld\n", i);
		fprintf(t, "{\"kind\":\"rmdir\",\"scenario\":\"bulk\",\"path\":\"/mz/bulk/z%ld\"}\n", i);
		fflush(t);
	}
	return fclose(t) || fclose(rm);
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "anon"))
		return hog_anon(atol(argv[2]), argv[3]);
	if (argc == 4 && !strcmp(argv[1], "tcp"))
		return hog_tcp(atoi(argv[2]), argv[3]);
	if (argc == 3 && !strcmp(argv[1], "sockets"))
		return hog_sockets(argv[2]);
	if (argc == 9 && !strcmp(argv[1], "bulk"))
		return bulk(atol(argv[2]), argv[3], argv[4], argv[5], atol(argv[6]), argv[7],
			    argv[8]);
	if (argc == 4 && !strcmp(argv[1], "dentries"))
		return negative_dentries(atol(argv[2]), argv[3]);
	fprintf(stderr, "usage: zhog anon MIB READYFILE | zhog tcp PORT READYFILE | "
		"zhog sockets READYFILE | zhog dentries N PREFIX | "
		"zhog bulk N CG SHM NEG SLAB TRUTH REMOVED\n");
	return 2;
}
