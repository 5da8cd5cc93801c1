/* SPDX-License-Identifier: ISC */
/*
 * unit_counter.c - the shared request counter: exact under concurrency,
 * survives a holder killed with the lock held, refuses hostile state files.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/counter.h"
#include "tests/tap.h"

#define WORKERS		8
#define PER_WORKER	250

static char dir[] = "/tmp/syncasync-counter-XXXXXX";
static char path[sizeof(dir) + sizeof(COUNTER_FILE) + 1];

static void
test_concurrent(void)
{
	static unsigned char seen[WORKERS * PER_WORKER + 1];
	int fds[2], i, ok = 1, duplicates = 0, missing = 0;
	uint64_t value;
	FILE *in;

	if (pipe(fds) == -1)
		exit(99);
	for (i = 0; i < WORKERS; i++) {
		pid_t pid = fork();

		if (pid == 0) {
			char err[SA_ERROR_MAX];
			int n;

			close(fds[0]);
			for (n = 0; n < PER_WORKER; n++) {
				if (counter_next(dir, &value, err,
				    sizeof(err)) == -1)
					_exit(1);
				if (write(fds[1], &value, sizeof(value)) !=
				    sizeof(value))
					_exit(1);
			}
			_exit(0);
		}
	}
	close(fds[1]);
	in = fdopen(fds[0], "r");
	while (fread(&value, sizeof(value), 1, in) == 1) {
		if (value < 1 || value > WORKERS * PER_WORKER) {
			ok = 0;
			continue;
		}
		if (seen[value]++)
			duplicates++;
	}
	fclose(in);
	for (i = 0; i < WORKERS; i++) {
		int status;

		wait(&status);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			ok = 0;
	}
	for (i = 1; i <= WORKERS * PER_WORKER; i++)
		if (!seen[i])
			missing++;
	TAP_OK(ok, "8 processes x 250 increments all succeed");
	TAP_EQ_INT(duplicates, 0, "no number handed out twice");
	TAP_EQ_INT(missing, 0, "no number skipped: exactly 1..2000");
}

static void
test_killed_holder(void)
{
	char err[SA_ERROR_MAX];
	uint64_t before = 0, after = 0;
	int ready[2];
	pid_t pid;
	char byte;

	counter_next(dir, &before, err, sizeof(err));
	if (pipe(ready) == -1)
		exit(99);
	pid = fork();
	if (pid == 0) {
		int fd = open(path, O_RDWR);

		flock(fd, LOCK_EX);
		if (write(ready[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(ready[1]);
	TAP_OK(read(ready[0], &byte, 1) == 1, "a process holds the lock");
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(ready[0]);
	TAP_EQ_INT(counter_next(dir, &after, err, sizeof(err)), 0,
	    "after it is killed the counter still works");
	TAP_EQ_INT(after, before + 1, "  and gives the next number");
}

static void
test_hostile(void)
{
	char err[SA_ERROR_MAX], other[sizeof(dir) + 16];
	uint64_t value;

	unlink(path);
	snprintf(other, sizeof(other), "%s/elsewhere", dir);
	close(open(other, O_CREAT | O_WRONLY, 0600));
	TAP_OK(symlink(other, path) == 0, "plant a symlink as the counter");
	TAP_EQ_INT(counter_next(dir, &value, err, sizeof(err)), -1,
	    "a symlinked counter file is refused");
	unlink(path);

	mkdir(path, 0700);
	TAP_EQ_INT(counter_next(dir, &value, err, sizeof(err)), -1,
	    "a directory as the counter file is refused");
	rmdir(path);

	mkfifo(path, 0600);
	TAP_EQ_INT(counter_next(dir, &value, err, sizeof(err)), -1,
	    "a FIFO as the counter file is refused without blocking");
	unlink(path);

	close(open(path, O_CREAT | O_WRONLY, 0600));
	if (geteuid() == 0) {
		TAP_OK(chown(path, 65534, 65534) == 0, "chown to nobody");
		TAP_EQ_INT(counter_next(dir, &value, err, sizeof(err)), -1,
		    "a counter file owned by another user is refused");
	} else {
		printf("ok %d # SKIP not root: cannot give the file away\n",
		    ++tap_count);
	}
	unlink(path);

	TAP_OK(link(other, path) == 0, "a hard link as the counter file");
	TAP_EQ_INT(counter_next(dir, &value, err, sizeof(err)), -1,
	    "  is refused (two links)");
	unlink(path);
	unlink(other);

	chmod(dir, 0777);
	TAP_EQ_INT(counter_next(dir, &value, err, sizeof(err)), -1,
	    "a world-writable state directory is refused");
	chmod(dir, 0700);

	TAP_EQ_INT(counter_next("/nonexistent/syncasync", &value, err,
	    sizeof(err)), -1, "a missing state directory is an error");
	TAP_OK(strstr(err, "/nonexistent/syncasync") != NULL,
	    "  naming the directory");
}

int
main(void)
{
	struct stat st;
	char err[SA_ERROR_MAX];
	uint64_t value = 0;

	if (mkdtemp(dir) == NULL)
		return 99;
	snprintf(path, sizeof(path), "%s/%s", dir, COUNTER_FILE);
	TAP_EQ_INT(counter_next(dir, &value, err, sizeof(err)), 0,
	    "first increment creates the file");
	TAP_EQ_INT(value, 1, "  and returns 1");
	TAP_OK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600,
	    "  with mode 0600");
	unlink(path);
	test_concurrent();
	test_killed_holder();
	test_hostile();
	rmdir(dir);
	return tap_done();
}
