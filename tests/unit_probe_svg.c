/* SPDX-License-Identifier: ISC */
/*
 * unit_probe_svg.c - the probe's SVG timeline from a fixed result set.
 *
 * Draws a blocking group with the server's report of its blocked loop
 * (frames carrying XML metacharacters), a non-blocking group (with a failed
 * row whose error and label carry XML metacharacters and invalid UTF-8) and
 * a group whose requests all failed alike, and checks: the title, one lane
 * per request, escaped text, the verdict headings, the blocked band, one
 * time scale for all panels, no thread colour shared between panels, and,
 * when xmllint is installed, that the file is well-formed XML.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "probe/probe_result.h"
#include "probe/probe_stats.h"
#include "probe/probe_svg.h"
#include "tests/tap.h"

#define T0 1764000000000000LL	/* µs */
#define NROWS 10

#include "tests/probe_fixture.h"

static void
make_set(struct probe_result *rows, size_t url_index, int blocking)
{
	int64_t i;

	for (i = 0; i < NROWS; i++) {
		struct probe_result *row = &rows[i];
		int64_t no = i + 1, start = 1000, end = 1500;

		probe_result_init(row, url_index, (size_t)i);
		row->sent_us = T0;
		row->http_status = 200;
		row->parsed = 1;
		row->pid = 42;
		row->request_no = no;
		row->thread_id = blocking ? 7 : 100 + no;
		snprintf(row->message, sizeof(row->message), "async example%s",
		    no == 5 ? " (sleep)" : "");
		if (no == 5)
			end = blocking ? 2001000 : 1001000;
		else if (no > 5 && blocking) {
			start = 2001000;
			end = 2001500;
		}
		row->started_us = T0 + start;
		row->finished_us = T0 + end;
		row->received_us = row->finished_us + 500;
	}
}

/* The fill colours of handling bars ("fill=\"#...\"/>") in [from, to). */
static size_t
colours(const char *from, const char *to, char found[][8], size_t max)
{
	const char *p = from;
	size_t n = 0, i;

	while ((p = strstr(p, "fill=\"#")) != NULL && p < to) {
		p += 6;
		if (p[7] != '"' || p[8] != '/' || strncmp(p, "#f76707", 7) == 0 ||
		    strncmp(p, "#868e96", 7) == 0)	/* waiting, failed */
			continue;
		for (i = 0; i < n; i++)
			if (strncmp(found[i], p, 7) == 0)
				break;
		if (i == n && n < max) {
			memcpy(found[n], p, 7);
			found[n++][7] = '\0';
		}
	}
	return n;
}

static size_t
count(const char *haystack, const char *needle)
{
	size_t n = 0;

	while ((haystack = strstr(haystack, needle)) != NULL) {
		n++;
		haystack += strlen(needle);
	}
	return n;
}

int
main(void)
{
	struct probe_result blocked[NROWS], flat[NROWS], refused[NROWS];
	struct probe_group groups[3];
	static struct probe_server server;
	char first[NROWS][8], second[NROWS][8];
	const char *g1, *g2, *g3;
	size_t n1, n2, i, j, shared = 0;
	char path[] = "/tmp/unit_probe_svg.XXXXXX", cmd[256], *text = NULL;
	size_t len = 0;
	FILE *out;
	int fd;

	make_set(blocked, 0, 1);
	make_set(flat, 1, 0);
	for (i = 0; i < NROWS; i++) {
		probe_result_init(&refused[i], 2, i);
		refused[i].sent_us = refused[i].received_us = T0;
		probe_result_set_error(&refused[i], "cannot connect to "
		    "127.0.0.1:1: Connection refused");
	}
	probe_fixture_server(&server, "http://h/async/stats", "<script>&x");
	probe_result_set_error(&flat[9], "HTTP 500: <b>&\"'\xff</b>");
	flat[9].parsed = 0;
	memset(groups, 0, sizeof(groups));
	groups[0].url = "http://127.0.0.1:8080/async";
	groups[0].label = "async <block> & co";
	groups[0].rows = blocked;
	groups[0].count = NROWS;
	groups[1].url = "http://127.0.0.1:8080/sync?a=1&b=2";
	groups[1].rows = flat;
	groups[1].count = NROWS;
	groups[2].url = "http://127.0.0.1:1/async";
	groups[2].rows = refused;
	groups[2].count = NROWS;
	groups[0].server = &server;
	probe_result_summarize(blocked, NROWS, 0, &groups[0].summary);
	probe_result_summarize(flat, NROWS, 0, &groups[1].summary);
	probe_result_summarize(refused, NROWS, 0, &groups[2].summary);

	if ((fd = mkstemp(path)) == -1 || (out = fdopen(fd, "w")) == NULL) {
		TAP_OK(0, "temporary file");
		return tap_done();
	}
	TAP_EQ_INT(probe_svg_print(out, groups, 3), 0, "svg written");
	fclose(out);
	if ((out = fopen(path, "r")) != NULL) {
		text = calloc(1, 1 << 20);
		if (text != NULL)
			len = fread(text, 1, (1 << 20) - 1, out);
		fclose(out);
	}
	TAP_OK(text != NULL && len > 0, "svg read back");
	if (text == NULL)
		text = calloc(1, 1);

	TAP_EQ_INT(count(text, "class=\"lane\""), 2 * NROWS,
	    "one lane per request");
	TAP_EQ_INT(count(text, "class=\"group\""), 3, "one section per URL");
	TAP_OK(strstr(text, ">10 concurrent GETs to each of 3 URLs: request #5 "
	    "slept ") != NULL, "title: how many, where, which slept");
	TAP_OK(strstr(text, "syncasync-probe, 20") != NULL, "title: when");
	TAP_EQ_INT(count(text, "class=\"blocked\""), 1,
	    "the reported block is a band");
	TAP_OK(strstr(text, "loop blocked 2.00 s") != NULL, "  labelled");
	TAP_OK(strstr(text, "the server says:</tspan> the loop was blocked "
	    "2.00 s by request #5,</text>") != NULL, "  the server's sentence");
	TAP_OK(strstr(text, ">in clock_nanosleep (libc.so.6) \xe2\x86\x90 "
	    "&lt;script&gt;&amp;x</text>") != NULL,
	    "  and under it the top frames, escaped");
	TAP_EQ_INT(count(text, ">2.0</text>"), 2,
	    "one time scale: the 1 s panel's axis also ends at 2.0");
	TAP_OK(strstr(text, "failed: cannot connect to 127.0.0.1:1: Connection "
	    "refused (all 10 requests)") != NULL,
	    "all failed alike: one line, no lanes");
	g1 = strstr(text, "data-url-index=\"0\"");
	g2 = strstr(text, "data-url-index=\"1\"");
	g3 = strstr(text, "data-url-index=\"2\"");
	n1 = g1 && g2 ? colours(g1, g2, first, NROWS) : 0;
	n2 = g2 && g3 ? colours(g2, g3, second, NROWS) : 0;
	for (i = 0; i < n1; i++)
		for (j = 0; j < n2; j++)
			shared += strcmp(first[i], second[j]) == 0;
	TAP_EQ_INT(n1, 1, "panel 1: one thread, one colour");
	TAP_EQ_INT(n2, 9, "panel 2: nine answered threads, nine colours");
	TAP_EQ_INT(shared, 0, "no colour in both panels");
	TAP_OK(strstr(text, "async &lt;block&gt; &amp; co") != NULL,
	    "label escaped");
	TAP_OK(strstr(text, "sync?a=1&amp;b=2") != NULL, "URL escaped");
	TAP_OK(strstr(text, "&lt;b&gt;&amp;&quot;&apos;?&lt;/b&gt;") != NULL,
	    "error escaped, invalid UTF-8 replaced");
	TAP_OK(strstr(text, ">blocked</tspan>") != NULL, "blocked heading");
	TAP_OK(strstr(text, ">failed</tspan>") != NULL, "failed heading");
	TAP_EQ_INT(count(text, "stroke-width=\"1.5\""), 2 + 1,
	    "two sleepers outlined, plus the legend");
	TAP_OK(strstr(text, "</svg>") != NULL, "document closed");

	if (system("command -v xmllint >/dev/null 2>&1") == 0) {
		snprintf(cmd, sizeof(cmd), "xmllint --noout %s", path);
		TAP_EQ_INT(system(cmd), 0, "xmllint: well-formed");
	} else
		printf("ok %d - xmllint: well-formed # SKIP xmllint not "
		    "installed\n", ++tap_count);
	unlink(path);
	free(text);
	return tap_done();
}
