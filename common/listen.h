/* SPDX-License-Identifier: ISC */
/*
 * listen.h - the FastCGI listening socket, for the programs that serve one.
 *
 * async_fcgi and sync_cgi's worker mode find their listening socket the same
 * way (doc/ARCHITECTURE.md, "Listening"): --listen unix:PATH | [HOST:]PORT, a systemd
 * socket (LISTEN_PID/LISTEN_FDS), or descriptor 0 when it is a listening
 * socket (the FastCGI convention of lighttpd's bin-path, spawn-fcgi and
 * mod_fcgid).  This file opens or recognises the socket; it does not accept,
 * does not decide the order (each main.c does), and never exits: errors come
 * back as text for the caller to print.
 */
#ifndef SYNCASYNC_COMMON_LISTEN_H
#define SYNCASYNC_COMMON_LISTEN_H

#include <stddef.h>

#include "common/limits.h"

#define LISTEN_ERROR_MAX SA_ERROR_MAX	/* former name */

/* 1 when fd is a listening socket (SO_ACCEPTCONN), else 0.  No side effects. */
int listen_is_listening(int fd);

/*
 * The first systemd-activated socket (sd_listen_fds(3): LISTEN_PID names
 * this process, LISTEN_FDS >= 1, descriptor 3 listens), or -1.  When it
 * takes the socket it unsets LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES and,
 * if several were passed, says on stderr, prefixed with program, that it
 * uses the first only.
 */
int listen_systemd(const char *program);

/*
 * Opens the socket an option "--listen spec" asks for, with a backlog of
 * SA_FCGI_BACKLOG and close-on-exec:
 *   unix:PATH     a Unix socket created 0660; a stale socket file at PATH is
 *                 replaced, anything else there is an error;
 *   [HOST:]PORT   TCP on a numeric address (IPv6 in brackets); a bare port
 *                 means 127.0.0.1.  SO_REUSEADDR is set.
 * Returns the descriptor, or -1 with a message in err that starts
 * "--listen SPEC", names the address a bare port means, and says why
 * (strerror: address in use, permission denied, no such directory...).
 */
int listen_open(const char *spec, char *err, size_t errlen);

#endif
