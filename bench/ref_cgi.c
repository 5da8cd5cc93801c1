/* SPDX-License-Identifier: ISC */
/*
 * ref_cgi.c - the benchmark's reference CGI program: the least a CGI
 * program can do, print one constant JSON answer and exit.
 *
 * It is the CGI floor sync_cgi is measured against: the web server's fork
 * and exec, the dynamic loader and libc, and nothing else.  It reads no
 * environment, keeps no counter and takes no lock.  Built by bench/run-bench
 * (statically linked it would be cheaper still; it is linked like sync_cgi).
 */
#include <stdio.h>

int
main(void)
{
	fputs("Status: 200 OK\r\n"
	    "Content-Type: application/json\r\n"
	    "\r\n"
	    "{\"message\": \"reference example\"}\n", stdout);
	return 0;
}
