/* SPDX-License-Identifier: ISC */
/*
 * supervise.h - N forked workers on what their caller opened, kept running
 * (async_fcgi --workers N, sync_cgi's /pool).
 *
 * It owns the workers' lifecycle (fork, reap, replace, the crash-loop
 * guard), every signal that reaches the supervisor (taken with
 * sigtimedwait(2), never in a handler) and the shutdown deadline, and logs
 * each of those events as one line that starts with the caller's name.
 * The caller gives the function each worker runs, that name, the number
 * of workers and the deadlines; it opens the listening socket and any
 * shared memory before, and closes them after.  It serves nothing itself
 * and never touches a request.  Nothing here runs before supervise_run():
 * a program that only links it pays nothing.
 */
#ifndef SYNCASYNC_COMMON_SUPERVISE_H
#define SYNCASYNC_COMMON_SUPERVISE_H

struct supervise_config {
	const char     *name;		/* log lines start "name: " */
	unsigned	workers;	/* 1 to SA_SUPERVISE_WORKERS_MAX */
	unsigned	stop_ms;	/* SIGTERM/SIGINT: SIGKILL what still
					   runs this long after */
	unsigned	again_ms;	/* ... or this long after a second one */
	int		hup_restarts;	/* SIGHUP: 1 restarts every worker, each
					   after its request in hand; 0 logs it */
	int		killed_at_once;	/* 1: a worker killed by a signal is
					   replaced at once however young (a
					   peer's bytes can kill one); 0: like
					   one that failed, it waits when young */
	/*
	 * Runs in a freshly forked child for slot index (0..workers-1) and
	 * returns its exit status; it never returns to the supervisor.  It
	 * starts with the signal mask supervise_run() was called with, and
	 * SIGUSR1, SIGUSR2, SIGALRM and SIGPIPE ignored until it says
	 * otherwise.  It calls supervise_ready() once it serves.
	 */
	int	      (*worker)(void *ctx, unsigned index);
	/* NULL, or called in the supervisor once the signals are held,
	 * before the first fork (the caller's start-up line). */
	void	      (*started)(void *ctx);
	/* NULL, or called in the supervisor when slot index's worker is
	 * reaped, before another takes the slot (to reset what it shared). */
	void	      (*gone)(void *ctx, unsigned index);
	void	       *ctx;
};

/*
 * Forks the workers and keeps them running until SIGTERM or SIGINT:
 *   - a worker that exits 0, or is killed while killed_at_once, is
 *     replaced at once; one that fails (a non-zero status, or a signal
 *     unless killed_at_once) within SA_SUPERVISE_RESPAWN_MS of its start
 *     makes its slot wait SA_SUPERVISE_RESPAWN_MS, so a crash loop costs a
 *     fork a second per slot; one that dies before it called
 *     supervise_ready() while no worker ever has is a setup error: the
 *     others get SIGTERM (SIGKILL again_ms later) and it returns -1;
 *   - SIGTERM or SIGINT goes on to every worker; what still runs stop_ms
 *     later, or again_ms after a second SIGTERM or SIGINT, is killed;
 *   - SIGHUP as hup_restarts says; SIGUSR1, SIGUSR2 and SIGALRM are
 *     logged and ignored; SIGPIPE is ignored.
 * Workers get SIGTERM if the supervisor dies (PR_SET_PDEATHSIG).  Returns
 * 0 when every worker stopped and exited 0, 1 when one did not or had to
 * be killed, -1 when no worker could be started.  The caller's signal mask
 * is restored.
 */
int supervise_run(const struct supervise_config *config);

/* In a worker: it serves now (its setup went well).  A no-op in a process
 * that supervise_run() did not fork. */
void supervise_ready(void);

#endif
