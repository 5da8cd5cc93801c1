/* SPDX-License-Identifier: ISC */
/*
 * ref_fcgi.c - the benchmark's reference FastCGI responder: the minimal
 * program a C author would write against libfcgi's fcgiapp API, answering
 * every request with one constant JSON body, one request at a time.
 *
 * It is the yardstick the bench holds async_fcgi's /async against (the
 * same web server, the same module, the same process count).  It listens on
 * descriptor 0 (lighttpd bin-path, spawn-fcgi) or, given one argument, on
 * the address FCGX_OpenSocket takes ("127.0.0.1:9000", "/path/sock") for a
 * web server that starts no backend itself (Apache mod_proxy_fcgi).
 *
 * It does not read the request body, route, count or sleep; nothing here is
 * part of syncasync.  Built by bench/run-bench, not by `make`.
 */
#include <fcgiapp.h>
#include <stdio.h>
#include <stdlib.h>

static const char ref_fcgi_answer[] =
    "Status: 200 OK\r\n"
    "Content-Type: application/json\r\n"
    "\r\n"
    "{\"message\": \"reference example\"}\n";

int
main(int argc, char **argv)
{
	FCGX_Request request;
	int listen_fd = 0;

	if (argc > 2) {
		fprintf(stderr, "usage: ref_fcgi [ADDRESS]\n");
		return 2;
	}
	if (FCGX_Init() != 0)
		return 1;
	if (argc == 2 && (listen_fd = FCGX_OpenSocket(argv[1], 1024)) < 0) {
		fprintf(stderr, "ref_fcgi: cannot listen on %s\n", argv[1]);
		return 1;
	}
	if (FCGX_InitRequest(&request, listen_fd, 0) != 0)
		return 1;
	while (FCGX_Accept_r(&request) >= 0) {
		FCGX_PutStr(ref_fcgi_answer, (int)sizeof(ref_fcgi_answer) - 1,
		    request.out);
		FCGX_Finish_r(&request);
	}
	return 0;
}
