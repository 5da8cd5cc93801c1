/* SPDX-License-Identifier: ISC */
/*
 * sync_pool.h - the /pool supervisor: N pre-forked sync_cgi workers.
 *
 * A supervisor forks N workers (sync_worker.h) that accept on one shared
 * listening socket, as gunicorn's sync workers and PHP-FPM do: whichever
 * worker is free takes the next connection, so a sleeper holds only its own
 * worker, and once all N are busy the next connections wait in the socket's
 * backlog.  It accepts nothing itself, never touches a request and does not
 * open the socket (common/listen.h).
 */
#ifndef SYNCASYNC_SYNC_CGI_SYNC_POOL_H
#define SYNCASYNC_SYNC_CGI_SYNC_POOL_H

/*
 * Forks workers processes running sync_worker_serve(listen_fd, workers)
 * and supervises them until SIGTERM or SIGINT:
 *   - a worker that exits is replaced at once, unless it exited with a
 *     non-zero status within SA_POOL_RESPAWN_MS of starting (it cannot
 *     start: that slot waits SA_POOL_RESPAWN_MS, the others serve on);
 *   - SIGTERM or SIGINT is passed on to every worker, which finishes its
 *     request in hand; workers still running SA_POOL_DRAIN_MS later, or
 *     at a second SIGTERM or SIGINT, are killed; then it returns 0;
 *   - SIGHUP restarts every worker: each finishes its request in hand and
 *     is replaced by a fresh one (which reads the settings again);
 *   - SIGUSR1, SIGUSR2 and SIGALRM are logged and ignored, SIGPIPE ignored.
 * A worker gets SIGTERM if the supervisor itself dies.  Returns 1 when no
 * worker could be started.
 */
int sync_pool_run(int listen_fd, unsigned workers);

#endif
