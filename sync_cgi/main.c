/*
 * main.c - sync_cgi: the process-per-request backend for /sync.
 *
 * Exec'd by the web server once per request (RFC 3875), it reads its CGI
 * environment, takes the deployment-wide request number, sleeps if it is the
 * sleeper, and answers with the contract JSON.  Start-up is kept small: it
 * links only json-c and does no work before the request needs it.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/settings.h"
#include "sync_cgi/sync_handler.h"

#ifndef SYNCASYNC_STATE_DIR
#define SYNCASYNC_STATE_DIR "/var/lib/syncasync"
#endif

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: sync_cgi [--help | --version]\n"
	    "\n"
	    "sync_cgi is a CGI program (RFC 3875): a web server runs it once per\n"
	    "request for GET or HEAD /sync, e.g. lighttpd with mod_cgi or Apache\n"
	    "with mod_cgid.  Run from a shell it has no request to answer.\n"
	    "\n"
	    "Environment (defaults reproduce the published experiment):\n"
	    "  SYNCASYNC_SLEEP_SECONDS   how long the sleeper sleeps [20]\n"
	    "  SYNCASYNC_SLEEP_ON        which request number sleeps; 0 = none [5]\n"
	    "  SYNCASYNC_STATE_DIR       where the shared counter lives [%s]\n"
	    "  SYNCASYNC_QUERY_OVERRIDES 1 lets a request carry ?sleep=SECONDS [0]\n",
	    SYNCASYNC_STATE_DIR);
}

static const char *
cgi_param(void *ctx, const char *name)
{
	(void)ctx;
	return getenv(name);
}

static int
cgi_write(void *ctx, const void *data, size_t len)
{
	return fwrite(data, 1, len, (FILE *)ctx) == len ? 0 : -1;
}

int
main(int argc, char **argv)
{
	static char out_buffer[8192];
	struct settings settings;
	char error[SETTINGS_ERROR_MAX];
	struct sync_io io = { cgi_param, cgi_write, NULL };
	int ok;

	if (argc > 1) {
		if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(argv[1], "--version") == 0 ||
		    strcmp(argv[1], "-V") == 0) {
			printf("sync_cgi (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
			return 0;
		}
		usage(stderr);
		return 2;
	}
	if (getenv("GATEWAY_INTERFACE") == NULL &&
	    getenv("REQUEST_METHOD") == NULL) {
		fprintf(stderr, "sync_cgi: no CGI environment "
		    "(GATEWAY_INTERFACE and REQUEST_METHOD are unset)\n\n");
		usage(stderr);
		return 2;
	}
	setvbuf(stdout, out_buffer, _IOFBF, sizeof(out_buffer));
	io.ctx = stdout;
	ok = settings_load(&settings, SYNCASYNC_STATE_DIR, error,
	    sizeof(error)) == 0;
	if (!ok)
		fprintf(stderr, "sync_cgi: %s\n", error);
	sync_handler_serve(&io, ok ? &settings : NULL, error);
	return fflush(stdout) == 0 ? 0 : 1;
}
