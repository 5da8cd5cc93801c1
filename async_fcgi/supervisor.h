/* SPDX-License-Identifier: ISC */
/*
 * supervisor.h - async_fcgi --workers N: N loops sharing one socket.
 *
 * The parent forks N single-threaded workers (each its own event loop,
 * offload pool and watchdog) that accept on the one listening socket, as
 * gunicorn's and uvicorn's --workers do; it serves nothing itself.  To a
 * web server it is one process (lighttpd's bin-path with max-procs 1,
 * mod_proxy_fcgi's socket, a systemd unit).  Errors: -1 with a message on
 * stderr when nothing can be started; nothing a worker does ends it.
 */
#ifndef SYNCASYNC_ASYNC_FCGI_SUPERVISOR_H
#define SYNCASYNC_ASYNC_FCGI_SUPERVISOR_H

struct worker_slots;

/*
 * Runs worker index (0..N-1) in a freshly forked child, its signal mask
 * the one supervisor_run() was called with; returns its exit status.  It
 * must mark its slot (worker_slots_set_pid) once it serves.
 */
typedef int (*supervisor_worker_fn)(void *ctx, unsigned index);

/*
 * Forks one worker per slot of slots and supervises them until SIGTERM or
 * SIGINT:
 *   - a worker that dies is replaced at once, unless it died within
 *     SA_FCGI_RESPAWN_MS of starting (that slot waits SA_FCGI_RESPAWN_MS:
 *     a crash loop costs one fork a second per slot); a worker that exits
 *     before it served while none ever has is a setup error: the others
 *     are stopped and it returns -1;
 *   - SIGTERM or SIGINT goes to every worker, which drains for drain_ms;
 *     one still running SA_FCGI_KILL_GRACE_MS past that, or after a
 *     second signal, is killed;
 *   - SIGHUP, SIGUSR1, SIGUSR2 and SIGALRM are logged and ignored.
 * Workers get SIGTERM if the supervisor dies (PR_SET_PDEATHSIG).  Returns
 * 0 when every worker drained and exited 0, 1 otherwise.  The caller must
 * have SIGTERM and SIGINT blocked.
 */
int supervisor_run(struct worker_slots *slots, unsigned drain_ms,
    supervisor_worker_fn worker, void *ctx);

#endif
