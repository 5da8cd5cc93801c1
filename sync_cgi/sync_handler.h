/* SPDX-License-Identifier: ISC */
/*
 * sync_handler.h - /sync: one request, start to finish, in this process.
 *
 * The handler reads the request's CGI variables and writes a CGI response
 * (RFC 3875, section 6: "Status:" header, header fields, a blank line, the
 * body) through a small interface, so the same code serves a CGI process
 * and a FastCGI worker (main.c, sync_worker.c).  It sleeps in the calling
 * thread: in the process-per-request model, and in a worker of a pool, that
 * stalls nobody else.
 */
#ifndef SYNCASYNC_SYNC_HANDLER_H
#define SYNCASYNC_SYNC_HANDLER_H

#include <stddef.h>

#include "common/handler.h"
#include "common/settings.h"

struct sync_io {
	handler_param_fn param;		/* a CGI meta-variable, or NULL */
	/* Writes len bytes of the response; 0, or -1 when the peer is gone. */
	int		(*write)(void *ctx, const void *data, size_t len);
	void	       *ctx;
};

/*
 * Serves one request.  settings is NULL when the configuration is bad;
 * settings_error then says why, and the request gets a 500 naming it.
 * Errors are answered with a JSON body and logged on stderr with the detail.
 * Returns the HTTP status sent (the response may still have been lost if
 * the peer went away: that is logged, not returned).
 */
int sync_handler_serve(const struct sync_io *io,
    const struct settings *settings, const char *settings_error);

#endif
