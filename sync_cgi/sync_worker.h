/* SPDX-License-Identifier: ISC */
/*
 * sync_worker.h - sync_cgi as one FastCGI worker (/pool, or alone).
 *
 * A worker serves FastCGI requests one at a time with the /sync handler
 * (sync_handler.h): it accepts a connection itself, lets the gate
 * (sync_gate.h) check the request head within a deadline and caps, then
 * hands the connection to libfcgi's fcgiapp (FCGX_Accept_r, FCGX_Finish_r)
 * and closes it after the answer.  It does not open the listening socket
 * (common/listen.h) and does not supervise anything (common/supervise.h).
 *
 * Known gaps (libfcgi's own code, sync_cgi(8) BUGS): a connection is closed
 * after each answer even with FCGI_KEEP_CONN, since libfcgi drops pipelined
 * requests it has buffered.
 */
#ifndef SYNCASYNC_SYNC_CGI_SYNC_WORKER_H
#define SYNCASYNC_SYNC_CGI_SYNC_WORKER_H

/*
 * Serves requests on listen_fd in this process until SIGTERM, SIGINT or
 * SIGHUP, each finishing the request in hand (returns 0), or until
 * accepting fails for another reason (1).  SIGUSR1, SIGUSR2, SIGALRM and
 * SIGPIPE are ignored.  capacity is what GET_VALUES reports (the size of
 * the pool the worker belongs to, 1 alone).  The settings are read once,
 * here; a bad one is logged once and answered as a 500 naming it on every
 * request.  Nothing a request carries ends the loop.
 */
int sync_worker_serve(int listen_fd, unsigned capacity);

#endif
