/*
 * unit_probe_svg.c - the probe's SVG timeline from a fixed result set.
 *
 * Draws a blocking and a non-blocking group (with a failed row whose error
 * and label carry XML metacharacters and invalid UTF-8) and checks: one lane
 * per request, escaped text, the verdict headings, and, when xmllint is
 * installed, that the file is well-formed XML.  Build with probe/probe_svg.c,
 * probe/probe_result.c and json-c.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "probe/probe_result.h"
#include "probe/probe_svg.h"
#include "tests/tap.h"

#define T0 1764000000000000LL	/* µs */
#define NROWS 10

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
			end = 2001000;
		else if (no > 5 && blocking) {
			start = 2001000;
			end = 2001500;
		}
		row->started_us = T0 + start;
		row->finished_us = T0 + end;
		row->received_us = row->finished_us + 500;
	}
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
	struct probe_result blocked[NROWS], flat[NROWS];
	struct probe_group groups[2];
	char path[] = "/tmp/unit_probe_svg.XXXXXX", cmd[256], *text = NULL;
	size_t len = 0;
	FILE *out;
	int fd;

	make_set(blocked, 0, 1);
	make_set(flat, 1, 0);
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
	probe_result_summarize(blocked, NROWS, 0, &groups[0].summary);
	probe_result_summarize(flat, NROWS, 0, &groups[1].summary);

	if ((fd = mkstemp(path)) == -1 || (out = fdopen(fd, "w")) == NULL) {
		TAP_OK(0, "temporary file");
		return tap_done();
	}
	TAP_EQ_INT(probe_svg_print(out, groups, 2), 0, "svg written");
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
	TAP_EQ_INT(count(text, "class=\"group\""), 2, "one section per URL");
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
