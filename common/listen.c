/* SPDX-License-Identifier: ISC */
/*
 * listen.c - opens or recognises the FastCGI listening socket (listen.h).
 *
 * Shared by async_fcgi and sync_cgi's worker mode so that both take the
 * same --listen syntax and say the same things when it is wrong.  Only
 * numeric addresses: no name lookups at start-up.
 */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/limits.h"
#include "common/listen.h"
#include "common/number.h"

#define LISTEN_FDS_START 3	/* sd_listen_fds(3) */

int
listen_is_listening(int fd)
{
	int accepting = 0;
	socklen_t len = sizeof(accepting);

	return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting,
	    &len) == 0 && accepting;
}

int
listen_systemd(const char *program)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	uint64_t value;

	if (pid == NULL || fds == NULL ||
	    number_parse_uint(pid, 1, INT32_MAX, &value) != NUMBER_OK ||
	    (pid_t)value != getpid() ||
	    number_parse_uint(fds, 1, SA_LISTEN_FDS_MAX, &value) != NUMBER_OK)
		return -1;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	if (value > 1)
		fprintf(stderr, "%s: LISTEN_FDS=%llu: using the first "
		    "socket only\n", program, (unsigned long long)value);
	return listen_is_listening(LISTEN_FDS_START) ? LISTEN_FDS_START : -1;
}

/* Says what failed on the socket for --listen spec (addr: what it is). */
static int
fail(int fd, char *err, size_t errlen, const char *spec, const char *addr,
    const char *what)
{
	int error = errno;

	snprintf(err, errlen, "--listen %s%s%s%s: %s: %s", spec,
	    addr != NULL ? " (" : "", addr != NULL ? addr : "",
	    addr != NULL ? ")" : "", what, strerror(error));
	if (fd != -1)
		close(fd);
	return -1;
}

static int
listen_unix(const char *spec, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	struct stat st;
	mode_t old_mask;
	int fd, rc;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "--listen %s: path too long (at most %zu "
		    "bytes)", spec, sizeof(sun.sun_path) - 1);
		return -1;
	}
	strcpy(sun.sun_path, path);
	/* Replace a stale socket, never anything else. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "--listen %s: exists and is not "
			    "a socket", spec);
			return -1;
		}
		unlink(path);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return fail(-1, err, errlen, spec, NULL, "socket");
	old_mask = umask(0117);		/* the socket is created 0660 */
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old_mask);
	if (rc == -1)
		return fail(fd, err, errlen, spec, NULL, "cannot bind");
	if (listen(fd, SA_FCGI_BACKLOG) == -1)
		return fail(fd, err, errlen, spec, NULL, "cannot listen");
	return fd;
}

static int
listen_tcp(const char *spec, char *err, size_t errlen)
{
	char host[SA_LISTEN_HOST_MAX] = "127.0.0.1", addr[sizeof(host) + 16];
	const char *port = spec, *colon = strrchr(spec, ':');
	struct addrinfo hints, *res = NULL;
	uint64_t port_number;
	const char *shown;
	int fd, one = 1;

	if (colon != NULL) {
		size_t len = (size_t)(colon - spec);

		if (len == 0 || len >= sizeof(host)) {
			snprintf(err, errlen, "--listen %s: bad host", spec);
			return -1;
		}
		memcpy(host, spec, len);
		host[len] = '\0';
		if (host[0] == '[' && len > 2 && host[len - 1] == ']') {
			memmove(host, host + 1, len - 2);
			host[len - 2] = '\0';
		}
		port = colon + 1;
	}
	if (number_parse_uint(port, 1, UINT16_MAX, &port_number) != NUMBER_OK) {
		snprintf(err, errlen, "--listen port \"%s\": must be a whole "
		    "number from 1 to %u", port, (unsigned)UINT16_MAX);
		return -1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	if (getaddrinfo(host, port, &hints, &res) != 0) {
		snprintf(err, errlen, "--listen %s: not a numeric address and "
		    "port", spec);
		return -1;
	}
	snprintf(addr, sizeof(addr), res->ai_family == AF_INET6 ?
	    "[%s]:%s" : "%s:%s", host, port);
	shown = strcmp(addr, spec) != 0 ? addr : NULL;	/* a bare port */
	fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, 0);
	if (fd == -1)
		fd = fail(-1, err, errlen, spec, shown, "socket");
	else if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
	    sizeof(one)) == -1)
		fd = fail(fd, err, errlen, spec, shown, "SO_REUSEADDR");
	else if (bind(fd, res->ai_addr, res->ai_addrlen) == -1)
		fd = fail(fd, err, errlen, spec, shown, "cannot bind");
	else if (listen(fd, SA_FCGI_BACKLOG) == -1)
		fd = fail(fd, err, errlen, spec, shown, "cannot listen");
	freeaddrinfo(res);
	return fd;
}

int
listen_open(const char *spec, char *err, size_t errlen)
{
	if (strncmp(spec, "unix:", 5) == 0)
		return listen_unix(spec, spec + 5, err, errlen);
	return listen_tcp(spec, err, errlen);
}
