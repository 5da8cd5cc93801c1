/*
 * worker.h - sync_cgi as a FastCGI worker, alone or as a pre-forked pool.
 *
 * A worker serves FastCGI requests one at a time through libfcgi's fcgiapp
 * (FCGX_Accept_r / FCGX_Finish_r) with the /sync handler (sync_handler.h).
 * A pool is a supervisor that forks N workers accepting on one shared
 * listening socket, as gunicorn's sync workers and PHP-FPM do: whichever
 * worker is free takes the next connection, so a sleeper holds only its own
 * worker, and once all N are busy the next connections wait in the
 * socket's backlog.  Neither opens the socket (common/listen.h does).
 */
#ifndef SYNCASYNC_SYNC_CGI_WORKER_H
#define SYNCASYNC_SYNC_CGI_WORKER_H

/*
 * Serves requests on listen_fd in this process until SIGTERM or SIGINT,
 * each finishing the request in hand (returns 0), or until accepting fails
 * for another reason (1).  The settings are read once, here; a bad one is
 * logged once and answered as a 500 naming it on every request.  Nothing a
 * request carries ends the loop.
 */
int worker_serve(int listen_fd);

/*
 * Forks workers processes running worker_serve(listen_fd) and supervises
 * them: a worker that exits is replaced (after SA_POOL_RESPAWN_MS if it
 * lived less than that), SIGTERM or SIGINT is passed on to every worker
 * and the pool returns 0 once all have finished their requests in hand.
 * A worker also gets SIGTERM if the supervisor itself dies.  Returns 1
 * when no worker could be started.
 */
int worker_pool_run(int listen_fd, unsigned workers);

#endif
