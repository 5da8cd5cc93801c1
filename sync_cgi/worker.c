/*
 * worker.c - sync_cgi's FastCGI worker and its pre-forked pool (worker.h).
 *
 * The worker is the struct sync_io implementation over libfcgi (FCGX_GetParam
 * on the request's environment, FCGX_PutStr on its output stream) plus the
 * accept loop.  The pool is a small supervisor in the manner of gunicorn's
 * arbiter: it forks the workers, waits for signals with sigtimedwait(2)
 * (nothing runs in a signal handler), replaces workers that exit and passes
 * SIGTERM on.  It accepts nothing itself and never touches a request.
 *
 * Why one shared socket rather than lighttpd's "max-procs" N: lighttpd
 * gives each process its own socket and hands a connection to the least
 * loaded one when it arrives, before anyone knows which request will sleep;
 * ten requests at once land two or three per socket, and those queued
 * behind the sleeper wait for it (measured: 2 of 9 held up with 4 workers).
 * With one socket, a connection waits only until some worker is free.
 */
#include "config.h"

#include <errno.h>
#include <fcgiapp.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/limits.h"
#include "common/settings.h"
#include "sync_cgi/sync_handler.h"
#include "sync_cgi/worker.h"

#ifndef SYNCASYNC_STATE_DIR
#define SYNCASYNC_STATE_DIR "/var/lib/syncasync"
#endif

/* --- one worker ----------------------------------------------------------- */

static volatile sig_atomic_t worker_stopping;
static volatile sig_atomic_t worker_listen_fd = -1;

/*
 * SIGTERM/SIGINT: finish the request in hand, accept no other.  Installed
 * without SA_RESTART so that a blocked accept(2) returns EINTR; libfcgi's
 * accept loop then sees FCGX_ShutdownPending() and returns.  Closing our
 * descriptor of the listening socket closes the window between libfcgi's
 * check of that flag and its accept(2): an accept on it fails at once.
 * Only this process's descriptor goes; the other workers sharing the
 * socket keep serving.  The sleep of a request in hand resumes after the
 * signal (clock_sleep_us).
 */
static void
worker_on_signal(int signo)
{
	int saved_errno = errno;
	int fd = worker_listen_fd;

	(void)signo;
	worker_stopping = 1;
	FCGX_ShutdownPending();
	if (fd != -1) {
		worker_listen_fd = -1;
		close(fd);
	}
	errno = saved_errno;
}

static const char *
worker_param(void *ctx, const char *name)
{
	return FCGX_GetParam(name, ((FCGX_Request *)ctx)->envp);
}

/* Buffered by libfcgi; FCGX_Finish_r() sends what is left. */
static int
worker_write(void *ctx, const void *data, size_t len)
{
	FCGX_Request *request = ctx;

	if (len > INT_MAX)
		return -1;
	return FCGX_PutStr(data, (int)len, request->out) == (int)len ? 0 : -1;
}

int
worker_serve(int listen_fd)
{
	struct settings settings;
	char error[SETTINGS_ERROR_MAX];
	FCGX_Request request;
	struct sync_io io = { worker_param, worker_write, &request };
	struct sigaction sa;
	unsigned long long served = 0;
	int ok, rc, status = 0;

	ok = settings_load(&settings, SYNCASYNC_STATE_DIR, error,
	    sizeof(error)) == 0;
	if (FCGX_Init() != 0 ||
	    FCGX_InitRequest(&request, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
		fprintf(stderr, "sync_cgi: libfcgi could not be initialised\n");
		return 1;
	}
	/* After FCGX_Init(), which installs handlers only where none is set. */
	worker_listen_fd = listen_fd;
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = worker_on_signal;
	sa.sa_flags = 0;		/* no SA_RESTART: see worker_on_signal */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);	/* a peer gone is a write error */

	if (ok)
		fprintf(stderr, "sync_cgi: pid %ld: FastCGI worker ready\n",
		    (long)getpid());
	else
		fprintf(stderr, "sync_cgi: pid %ld: FastCGI worker: %s; every "
		    "request will get a 500 naming it\n", (long)getpid(), error);
	while (!worker_stopping) {
		if ((rc = FCGX_Accept_r(&request)) < 0) {
			if (worker_stopping)
				break;
			if (rc == -EINTR)
				continue;
			fprintf(stderr, "sync_cgi: pid %ld: accepting failed: "
			    "%s\n", (long)getpid(),
			    rc > -4096 ? strerror(-rc) : "libfcgi error");
			status = 1;
			break;
		}
		sync_handler_serve(&io, ok ? &settings : NULL, error);
		FCGX_Finish_r(&request);
		served++;
	}
	FCGX_Free(&request, 1);
	if (worker_stopping)
		fprintf(stderr, "sync_cgi: pid %ld: stopping after %llu "
		    "request(s)\n", (long)getpid(), served);
	return status;
}

/* --- the pool ------------------------------------------------------------- */

struct pool_slot {
	pid_t		pid;		/* 0: no worker */
	int64_t		started_ms;
	int64_t		respawn_ms;	/* not before (monotonic ms) */
};

static int64_t
pool_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Forks one worker.  The child restores the signal mask and dispositions
 * the supervisor changed, asks for SIGTERM when the supervisor dies, and
 * never returns.  Returns the child's pid, or -1.
 */
static pid_t
pool_spawn(int listen_fd, const sigset_t *worker_mask, pid_t supervisor)
{
	pid_t pid;

	fflush(NULL);
	if ((pid = fork()) != 0)
		return pid;
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	sigprocmask(SIG_SETMASK, worker_mask, NULL);
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1 || getppid() != supervisor)
		_exit(0);
	exit(worker_serve(listen_fd));
}

static void
pool_log_exit(pid_t pid, int status)
{
	if (WIFEXITED(status))
		fprintf(stderr, "sync_cgi: pool: worker %ld exited with status "
		    "%d; starting another\n", (long)pid, WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		fprintf(stderr, "sync_cgi: pool: worker %ld killed by signal "
		    "%d; starting another\n", (long)pid, WTERMSIG(status));
}

int
worker_pool_run(int listen_fd, unsigned workers)
{
	struct pool_slot slots[SA_POOL_WORKERS_MAX];
	sigset_t waited, worker_mask;
	pid_t self = getpid(), pid;
	unsigned i, running = 0;
	int stopping = 0, first = 1, signo, status;

	if (workers == 0 || workers > SA_POOL_WORKERS_MAX)
		return 1;
	memset(slots, 0, sizeof(slots));
	sigemptyset(&waited);
	sigaddset(&waited, SIGTERM);
	sigaddset(&waited, SIGINT);
	sigaddset(&waited, SIGCHLD);
	sigprocmask(SIG_BLOCK, &waited, &worker_mask);
	fprintf(stderr, "sync_cgi: pid %ld: supervising a pool of %u FastCGI "
	    "workers\n", (long)self, workers);

	for (;;) {
		int64_t now = pool_now_ms(), wait_ms = -1;

		for (i = 0; i < workers && !stopping; i++) {
			if (slots[i].pid != 0)
				continue;
			if (slots[i].respawn_ms > now) {
				int64_t left = slots[i].respawn_ms - now;

				if (wait_ms < 0 || left < wait_ms)
					wait_ms = left;
				continue;
			}
			if ((pid = pool_spawn(listen_fd, &worker_mask,
			    self)) == -1) {
				fprintf(stderr, "sync_cgi: pool: fork: %s\n",
				    strerror(errno));
				slots[i].respawn_ms = now + SA_POOL_RESPAWN_MS;
				if (wait_ms < 0 || wait_ms > (int64_t)SA_POOL_RESPAWN_MS)
					wait_ms = SA_POOL_RESPAWN_MS;
				continue;
			}
			slots[i].pid = pid;
			slots[i].started_ms = now;
			running++;
		}
		if (first && running == 0) {
			fprintf(stderr, "sync_cgi: pool: no worker could be "
			    "started\n");
			status = 1;
			goto done;
		}
		first = 0;
		if (stopping && running == 0)
			break;

		if (wait_ms >= 0) {
			struct timespec ts = { (time_t)(wait_ms / 1000),
			    (long)(wait_ms % 1000) * 1000000L };

			signo = sigtimedwait(&waited, NULL, &ts);
		} else
			signo = sigwaitinfo(&waited, NULL);
		if ((signo == SIGTERM || signo == SIGINT) && !stopping) {
			stopping = 1;
			fprintf(stderr, "sync_cgi: pool: signal %d: stopping %u "
			    "worker(s) after their requests in hand\n", signo,
			    running);
			for (i = 0; i < workers; i++)
				if (slots[i].pid != 0)
					kill(slots[i].pid, SIGTERM);
		}
		now = pool_now_ms();
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			for (i = 0; i < workers && slots[i].pid != pid; i++)
				continue;
			if (i == workers)
				continue;
			slots[i].pid = 0;
			running--;
			if (stopping)
				continue;
			pool_log_exit(pid, status);
			slots[i].respawn_ms = now - slots[i].started_ms <
			    (int64_t)SA_POOL_RESPAWN_MS ?
			    now + (int64_t)SA_POOL_RESPAWN_MS : 0;
		}
	}
	fprintf(stderr, "sync_cgi: pool: every worker has stopped\n");
	status = 0;
done:
	sigprocmask(SIG_SETMASK, &worker_mask, NULL);
	return status;
}
