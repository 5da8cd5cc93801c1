/* SPDX-License-Identifier: ISC */
/*
 * probe_svg.c - draw the experiment as an SVG timeline.
 *
 * A title says what was done (how many requests to which URLs, which
 * request slept how long, when); a legend under it says how to read the
 * bars.  Then one panel per URL: a heading with the verdict, a line on its
 * processes and threads, what the server said about its loop (an /async
 * URL), one lane per request in the experiment's order (server request
 * number), and a time axis.  Every panel uses the same scale, seconds since
 * its own first send, so a staircase and a flat line compare at a glance.
 *
 * In a lane the strong orange bar is the time a request waited: sent but
 * not yet handled by the server (or handled but not yet received).  The bar
 * in a thread's colour is the server handling it; the sleeper's is striped
 * and outlined.  Colours belong to (pid, thread id) pairs across the whole
 * picture, never reused for another thread while distinct ones last, and
 * none is orange or red.  A blocked interval the server reported is a red
 * band over that panel's lanes.  Server times are placed on the client's
 * clock as they are: this is only right when both run on the same machine.
 *
 * Every piece of text goes through xml_text (XML escaping, invalid UTF-8
 * and control bytes replaced), so the output stays well-formed whatever a
 * server sent.  Each lane is a <g class="lane">, each panel a
 * <g class="group">, each reported block a <rect class="blocked">; the
 * tests count them.
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "probe/probe_stats.h"
#include "probe/probe_svg.h"

#define PROBE_SVG_WIDTH		1150	/* px */
#define PROBE_SVG_LEFT		70	/* px, lane labels */
#define PROBE_SVG_RIGHT		290	/* px, text after the bars */
#define PROBE_SVG_TOP		118	/* px, title and legend */
#define PROBE_SVG_THREADS	256	/* (pid, thread) pairs with their own colour */
#define PROBE_SVG_ERROR_MAX	60	/* bytes of error text shown in a lane */
#define PROBE_SVG_SAYS_MAX	180	/* bytes of a line of the server's */
#define PROBE_SVG_PLOT_W	(PROBE_SVG_WIDTH - PROBE_SVG_LEFT - PROBE_SVG_RIGHT)

#define COLOR_WAIT	"#f76707"	/* waiting: the story, the strongest */
#define COLOR_BLOCK	"#e03131"	/* the loop was blocked */
#define COLOR_FAIL	"#868e96"
#define COLOR_TEXT	"#212529"

/* (pid, thread id) pairs in order of first appearance, for their colours. */
struct probe_svg_threads {
	int64_t	pids[PROBE_SVG_THREADS];
	int64_t	ids[PROBE_SVG_THREADS];
	char	colors[PROBE_SVG_THREADS][8];
	size_t	count;
};

/*
 * Writes s as XML character data: & < > " ' escaped; control bytes and bytes
 * that do not form valid UTF-8 written as '?'.
 */
static void
xml_text(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i, len;

	while (*p != '\0') {
		if (*p < 0x80) {
			switch (*p) {
			case '&': fputs("&amp;", out); break;
			case '<': fputs("&lt;", out); break;
			case '>': fputs("&gt;", out); break;
			case '"': fputs("&quot;", out); break;
			case '\'': fputs("&apos;", out); break;
			default:
				fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, out);
			}
			p++;
			continue;
		}
		if (*p >= 0xc2 && *p <= 0xdf)
			len = 2;
		else if (*p >= 0xe0 && *p <= 0xef)
			len = 3;
		else if (*p >= 0xf0 && *p <= 0xf4)
			len = 4;
		else
			len = 0;
		for (i = 1; i < len; i++)
			if ((p[i] & 0xc0) != 0x80)	/* also stops at NUL */
				len = 0;
		if (len == 0) {
			fputc('?', out);
			p++;
			continue;
		}
		fwrite(p, 1, len, out);
		p += len;
	}
}

/* Like xml_text, cut to at most max bytes (at a UTF-8 boundary). */
static void
xml_short_text(FILE *out, const char *s, size_t max)
{
	char buf[SA_ERROR_MAX];
	size_t len = strlen(s);

	if (len <= max || max >= sizeof(buf)) {
		xml_text(out, s);
		return;
	}
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	memcpy(buf, s, max);
	buf[max] = '\0';
	xml_text(out, buf);
	fputs("\xe2\x80\xa6", out);	/* ellipsis */
}

/*
 * The colour of the index-th of total threads: hues from green through
 * blue to purple (80..310 degrees, never the orange of waiting or the red of
 * a block), spread evenly, at up to three lightnesses when there are many;
 * consecutive indexes a stride of about 0.38 of the hues apart, so that
 * neighbouring lanes differ.
 */
static void
palette_color(size_t index, size_t total, char out[8])
{
	static const double lightness[3][3] = {
		{ 0.45, 0.45, 0.45 }, { 0.40, 0.62, 0.40 }, { 0.45, 0.30, 0.64 },
	};
	size_t levels = total <= 7 ? 1 : total <= 14 ? 2 : 3;
	size_t hues = (total + levels - 1) / levels, stride, a, b, t;
	double h, l, s = 0.62, c, hp, x, m, r = 0, g = 0, bl = 0;

	if (hues == 0)
		hues = 1;
	/* The first stride from 0.38 of the hues up that is prime to them. */
	for (stride = (size_t)((double)hues * 0.38 + 0.5); ; stride++) {
		for (a = stride ? stride : 1, b = hues; b != 0; t = a % b, a = b,
		    b = t)
			;
		if (stride > 0 && a == 1)
			break;
	}
	h = 80 + 230 * (((double)((index * stride) % hues) + 0.5) /
	    (double)hues);
	l = lightness[levels - 1][(index / hues) % levels];
	c = (1 - fabs(2 * l - 1)) * s;
	hp = h / 60;
	x = c * (1 - fabs(fmod(hp, 2) - 1));
	m = l - c / 2;
	if (hp < 1) { r = c; g = x; }
	else if (hp < 2) { r = x; g = c; }
	else if (hp < 3) { g = c; bl = x; }
	else if (hp < 4) { g = x; bl = c; }
	else if (hp < 5) { r = x; bl = c; }
	else { r = c; bl = x; }
	snprintf(out, 8, "#%02x%02x%02x", (unsigned)lround((r + m) * 255),
	    (unsigned)lround((g + m) * 255), (unsigned)lround((bl + m) * 255));
}

/* Registers a (pid, thread) pair; the first PROBE_SVG_THREADS get a slot. */
static void
thread_register(struct probe_svg_threads *threads, int64_t pid, int64_t id)
{
	size_t i;

	for (i = 0; i < threads->count; i++)
		if (threads->ids[i] == id && threads->pids[i] == pid)
			return;
	if (threads->count < PROBE_SVG_THREADS) {
		threads->pids[threads->count] = pid;
		threads->ids[threads->count++] = id;
	}
}

/* Gives every registered pair its colour, once all are known. */
static void
thread_colors(struct probe_svg_threads *threads)
{
	size_t i;

	for (i = 0; i < threads->count; i++)
		palette_color(i, threads->count, threads->colors[i]);
}

static const char *
thread_color(const struct probe_svg_threads *threads, int64_t pid,
    int64_t id)
{
	size_t i;

	for (i = 0; i < threads->count; i++)
		if (threads->ids[i] == id && threads->pids[i] == pid)
			return threads->colors[i];
	/* Past the table colours repeat; the lane text names the thread. */
	return threads->count > 0 ? threads->colors[(uint64_t)(pid * 31 + id) %
	    threads->count] : "#3b6fb6";
}

/* A tick step of 1, 2 or 5 times a power of ten giving 4..10 ticks. */
static double
tick_step(double span_s)
{
	double step = pow(10, floor(log10(span_s > 0 ? span_s : 1)));

	if (span_s / step < 2)
		step /= 5;
	else if (span_s / step < 4)
		step /= 2;
	return step;
}

static int
lane_height(size_t count)
{
	if (count <= 50)
		return 18;
	return count >= 300 ? 3 : (int)(900 / count);
}

/* The group's time range: first send to the last answer or server finish. */
static void
time_range(const struct probe_group *group, int64_t *t0, int64_t *t1)
{
	size_t i;

	*t0 = INT64_MAX;
	*t1 = INT64_MIN;
	for (i = 0; i < group->count; i++) {
		const struct probe_result *row = &group->rows[i];

		if (row->sent_us < *t0)
			*t0 = row->sent_us;
		if (row->received_us > *t1)
			*t1 = row->received_us;
		if (row->parsed && row->finished_us > *t1)
			*t1 = row->finished_us;
	}
	if (group->count == 0)
		*t0 = *t1 = 0;
	if (*t1 <= *t0)
		*t1 = *t0 + 1000;
}

/* The length of "http://host:port" at the start of url (0 if none). */
static size_t
origin_len(const char *url)
{
	const char *p = strstr(url, "://");

	if (p == NULL)
		return 0;
	p = strchr(p + 3, '/');
	return p != NULL ? (size_t)(p - url) : strlen(url);
}

/*
 * The title: "10 concurrent GETs to each of 5 URLs on http://host:port:
 * request #5 slept 2.00 s" and, under it, when and how to read the panels.
 */
static void
draw_title(FILE *out, const struct probe_group *groups, size_t ngroups)
{
	char when[CLOCK_TIME_LEN] = "", host[SA_PROBE_URI_MAX];
	size_t g, origin = ngroups > 0 ? origin_len(groups[0].url) : 0;
	int64_t t0 = INT64_MAX, sleeper = -1, tmin, tmax;
	double smin = 0, smax = 0;
	int same_origin = origin > 0, same_sleeper = 1, any = 0;

	for (g = 0; g < ngroups; g++) {
		const struct probe_summary *sum = &groups[g].summary;

		time_range(&groups[g], &tmin, &tmax);
		if (groups[g].count > 0 && tmin < t0)
			t0 = tmin;
		if (origin_len(groups[g].url) != origin ||
		    strncmp(groups[g].url, groups[0].url, origin) != 0)
			same_origin = 0;
		if (sum->sleepers == 0)
			continue;
		if (!any) {
			sleeper = sum->sleeper_request_no;
			smin = smax = sum->sleep_s;
			any = 1;
		}
		if (sum->sleeper_request_no != sleeper)
			same_sleeper = 0;
		smin = sum->sleep_s < smin ? sum->sleep_s : smin;
		smax = sum->sleep_s > smax ? sum->sleep_s : smax;
	}
	if (t0 != INT64_MAX)
		clock_format_local(t0, when);
	fprintf(out, "<text x=\"10\" y=\"26\" class=\"title\" "
	    "xml:space=\"preserve\">%zu concurrent GET%s ", ngroups > 0 ?
	    groups[0].count : 0, ngroups > 0 && groups[0].count == 1 ? "" :
	    "s");
	if (ngroups == 1) {
		fputs("to ", out);
		xml_text(out, groups[0].url);
	} else if (same_origin) {
		snprintf(host, sizeof(host), "%.*s", (int)origin,
		    groups[0].url);
		fprintf(out, "to each of %zu URLs on ", ngroups);
		xml_text(out, host);
	} else
		fprintf(out, "to each of %zu URLs", ngroups);
	if (any && same_sleeper && smax - smin < 0.05)
		fprintf(out, ": request #%lld slept %.2f s",
		    (long long)sleeper, smax);
	else if (any && same_sleeper)
		fprintf(out, ": request #%lld slept %.2f to %.2f s",
		    (long long)sleeper, smin, smax);
	else if (any)
		fputs(": one request in each slept (see each panel)", out);
	else
		fputs(": no request slept", out);
	fputs("</text>\n", out);
	fprintf(out, "<text x=\"10\" y=\"46\" class=\"sub\">syncasync-probe, "
	    "%s \xc2\xb7 one row per request, in the order the server "
	    "numbered them \xc2\xb7 one time scale for every panel: seconds "
	    "since its first send</text>\n", when);
}

/* One legend entry: a swatch (drawn by the caller's fill) and its text. */
static void
legend_item(FILE *out, int x, int y, const char *swatch, const char *text)
{
	fprintf(out, "%s<text x=\"%d\" y=\"%d\" class=\"t\">%s</text>", swatch,
	    x + 40, y + 10, text);
}

static void
draw_legend(FILE *out, int y)
{
	char swatch[512];
	int x = 10;

	fputs("<g class=\"legend\">", out);
	snprintf(swatch, sizeof(swatch), "<rect x=\"%d\" y=\"%d\" width=\"32\" "
	    "height=\"12\" fill=\"" COLOR_WAIT "\"/>", x, y);
	legend_item(out, x, y, swatch, "<tspan font-weight=\"bold\">waiting"
	    "</tspan>: sent, not yet handled by the server");
	x = 390;
	snprintf(swatch, sizeof(swatch), "<rect x=\"%d\" y=\"%d\" width=\"14\" "
	    "height=\"12\" fill=\"#3b6fb6\"/><rect x=\"%d\" y=\"%d\" "
	    "width=\"14\" height=\"12\" fill=\"#58a65c\"/>", x, y, x + 18, y);
	legend_item(out, x, y, swatch, "handled by the server: one colour per "
	    "thread (pid, thread id), across all panels");
	y += 20;
	x = 10;
	snprintf(swatch, sizeof(swatch), "<rect x=\"%d\" y=\"%d\" width=\"32\" "
	    "height=\"12\" fill=\"#3b6fb6\"/><rect x=\"%d\" y=\"%d\" "
	    "width=\"32\" height=\"12\" fill=\"url(#sleep)\" stroke=\"#000\" "
	    "stroke-width=\"1.5\"/>", x, y, x, y);
	legend_item(out, x, y, swatch, "the sleeper, handled (it sleeps)");
	x = 390;
	snprintf(swatch, sizeof(swatch), "<rect x=\"%d\" y=\"%d\" width=\"32\" "
	    "height=\"12\" fill=\"" COLOR_BLOCK "\" fill-opacity=\"0.16\" "
	    "stroke=\"" COLOR_BLOCK "\"/>", x, y);
	legend_item(out, x, y, swatch, "the event loop was blocked (the "
	    "server's own report)");
	x = 800;
	snprintf(swatch, sizeof(swatch), "<rect x=\"%d\" y=\"%d\" width=\"32\" "
	    "height=\"6\" fill=\"" COLOR_FAIL "\"/>", x, y + 3);
	legend_item(out, x, y, swatch, "failed");
	fputs("</g>\n", out);
}

static void
draw_heading(FILE *out, const struct probe_group *group, int y)
{
	const struct probe_summary *sum = &group->summary;
	const char *color = "#495057";

	if (sum->verdict == PROBE_VERDICT_BLOCKED)
		color = "#c92a2a";
	else if (sum->verdict == PROBE_VERDICT_NOT_BLOCKED)
		color = "#2b8a3e";
	else if (sum->verdict == PROBE_VERDICT_QUEUED)
		color = "#b9770e";
	fprintf(out, "<text x=\"10\" y=\"%d\" class=\"h\" "
	    "xml:space=\"preserve\">", y);
	if (group->label != NULL) {
		/* A label says what the URL is: its path is enough beside it. */
		size_t origin = origin_len(group->url);

		xml_text(out, group->label);
		fputs(" \xe2\x80\x94 ", out);	/* em dash */
		xml_text(out, group->url[origin] == '/' ? group->url + origin :
		    group->url);
	} else
		xml_text(out, group->url);
	fprintf(out, ": <tspan fill=\"%s\">%s</tspan>", color,
	    probe_result_verdict_name(sum->verdict));
	if (sum->verdict == PROBE_VERDICT_BLOCKED ||
	    sum->verdict == PROBE_VERDICT_NOT_BLOCKED ||
	    sum->verdict == PROBE_VERDICT_QUEUED)
		fprintf(out, "<tspan class=\"s\"> \xe2\x80\x94 %zu of %zu others "
		    "held up by the sleeper</tspan>", sum->held_up, sum->others);
	else if (sum->verdict == PROBE_VERDICT_FAILED)
		fprintf(out, "<tspan class=\"s\"> \xe2\x80\x94 %zu of %zu "
		    "requests failed</tspan>", sum->failed, sum->requests);
	fputs("</text>\n", out);
}

/* "10 processes, 10 threads: one per request" and the like. */
static void
draw_threads_line(FILE *out, const struct probe_group *group, int y)
{
	const struct probe_summary *sum = &group->summary;

	if (sum->ok == 0)
		return;
	fprintf(out, "<text x=\"10\" y=\"%d\" class=\"t\">%zu process%s, "
	    "%zu thread%s", y, sum->distinct_pids, sum->distinct_pids == 1 ?
	    "" : "es", sum->distinct_threads, sum->distinct_threads == 1 ? "" :
	    "s");
	if (sum->distinct_threads == 1 && sum->ok > 1)
		fputs(": every request on the same thread", out);
	else if (sum->distinct_threads == sum->ok && sum->ok > 1)
		fputs(": one per request", out);
	else if (sum->distinct_threads > 1)
		fputs(": some served several requests", out);
	fputs("</text>\n", out);
}

/* The server's sentence, and where its frames start (NULL: none). */
static const char *
server_sentence(const struct probe_server *server, char *line, size_t size)
{
	char *in;

	probe_stats_sentence(server, 0, line, size);
	if ((in = strstr(line, ", in ")) == NULL)
		return NULL;
	in[1] = '\0';		/* line ends with its "," */
	return in + 2;		/* "in frame <- frame ..." */
}

/* What the server said, on one line, its frames on a second; the number
 * of lines drawn (without out: only counted). */
static int
draw_server_line(FILE *out, const struct probe_group *group, int y)
{
	const struct probe_server *server = group->server;
	const char *color = server->nblocks > 0 ? "#c92a2a" : "#2b8a3e";
	char line[2048];
	const char *frames = server_sentence(server, line, sizeof(line));

	if (out == NULL)
		return frames != NULL ? 2 : 1;
	fprintf(out, "<text x=\"10\" y=\"%d\" class=\"t\" "
	    "style=\"fill:%s\"><tspan font-weight=\"bold\">the server "
	    "says:</tspan> ", y, color);
	xml_short_text(out, line, PROBE_SVG_SAYS_MAX);
	if (server->nblocks > 1)
		fprintf(out, " (and %zu more)", server->nblocks - 1);
	fputs("</text>\n", out);
	if (frames == NULL)
		return 1;
	fprintf(out, "<text x=\"22\" y=\"%d\" class=\"t\" "
	    "style=\"fill:%s\">", y + 15, color);
	xml_short_text(out, frames, PROBE_SVG_SAYS_MAX);
	fputs("</text>\n", out);
	return 2;
}

/* The server's blocked intervals as red bands over the lanes [y, y + h). */
static void
draw_blocks(FILE *out, const struct probe_group *group, int y, int h,
    int64_t t0, double px_per_us)
{
	const struct probe_server *server = group->server;
	double x1, x2, right = PROBE_SVG_LEFT + PROBE_SVG_PLOT_W;
	size_t i;

	if (server == NULL)
		return;
	for (i = 0; i < server->nblocks; i++) {
		const struct probe_block *block = &server->blocks[i];

		if (block->started_us == 0)
			continue;
		x1 = PROBE_SVG_LEFT + (double)(block->started_us - t0) *
		    px_per_us;
		x2 = x1 + block->duration_ms * 1000.0 * px_per_us;
		x1 = x1 < PROBE_SVG_LEFT ? PROBE_SVG_LEFT : x1;
		x2 = x2 > right ? right : x2;
		if (x2 < x1 + 2)
			x2 = x1 + 2;
		fprintf(out, "<rect class=\"blocked\" x=\"%.1f\" y=\"%d\" "
		    "width=\"%.1f\" height=\"%d\" fill=\"" COLOR_BLOCK "\" "
		    "fill-opacity=\"0.13\" stroke=\"" COLOR_BLOCK "\" "
		    "stroke-dasharray=\"4 3\"/>", x1, y - 2, x2 - x1, h + 4);
		fprintf(out, "<text x=\"%.1f\" y=\"%d\" class=\"t\" "
		    "style=\"fill:" COLOR_BLOCK "\" text-anchor=\"end\" "
		    "font-weight=\"bold\">"
		    "loop blocked %.2f s</text>\n", x2 - 4, y + 11,
		    block->duration_ms / 1000);
	}
}

static void
draw_lane(FILE *out, const struct probe_result *row, int y, int lane_h,
    int64_t t0, double px_per_us, const struct probe_svg_threads *threads)
{
	double x1, x2, s1, s2, bar_y = y + lane_h * 0.12;
	double bar_h = lane_h * 0.76;
	int ok = probe_result_ok(row), sleeper = probe_result_is_sleeper(row);
	int text = lane_h >= 12;
	double mid = y + lane_h / 2.0;

	x1 = PROBE_SVG_LEFT + (double)(row->sent_us - t0) * px_per_us;
	x2 = PROBE_SVG_LEFT + (double)(row->received_us - t0) * px_per_us;
	if (x2 < x1 + 1)
		x2 = x1 + 1;
	fprintf(out, "<g class=\"lane\" data-index=\"%zu\">", row->index);
	if (text) {
		fprintf(out, "<text x=\"%d\" y=\"%.1f\" class=\"n\">",
		    PROBE_SVG_LEFT - 8, mid + 4);
		if (ok)
			fprintf(out, "#%lld", (long long)row->request_no);
		else
			fputs("\xe2\x80\x94", out);
		fputs("</text>", out);
	}
	if (!ok)
		fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
		    "height=\"%.1f\" fill=\"" COLOR_FAIL "\"/>", x1,
		    mid - lane_h * 0.15, x2 - x1, lane_h * 0.3);
	else {
		const char *color = thread_color(threads, row->pid,
		    row->thread_id);

		s1 = PROBE_SVG_LEFT + (double)(probe_result_work_start_us(row) -
		    t0) * px_per_us;
		s2 = PROBE_SVG_LEFT + (double)(row->finished_us - t0) *
		    px_per_us;
		if (s2 < s1 + 3)
			s2 = s1 + 3;
		/* Waiting: the whole send-to-answer span, under the handling. */
		fprintf(out, "<rect class=\"wait\" x=\"%.1f\" y=\"%.1f\" "
		    "width=\"%.1f\" height=\"%.1f\" fill=\"" COLOR_WAIT "\"/>",
		    x1, bar_y, x2 - x1, bar_h);
		fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
		    "height=\"%.1f\" fill=\"%s\"/>", s1, bar_y, s2 - s1, bar_h,
		    color);
		if (sleeper)
			fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
			    "height=\"%.1f\" fill=\"url(#sleep)\" "
			    "stroke=\"#000\" stroke-width=\"1.5\"/>", s1, bar_y,
			    s2 - s1, bar_h);
	}
	if (text) {
		fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"t\">%.0f ms",
		    x2 + 6, mid + 4, probe_result_latency_ms(row));
		if (sleeper)
			fputs(" <tspan font-weight=\"bold\">sleeper</tspan>",
			    out);
		if (ok && row->pid == row->thread_id)
			fprintf(out, " \xc2\xb7 pid %lld", (long long)row->pid);
		else if (ok)
			fprintf(out, " \xc2\xb7 thread %lld of pid %lld",
			    (long long)row->thread_id, (long long)row->pid);
		else {
			fputs(" \xc2\xb7 failed: ", out);
			xml_short_text(out, row->error,
			    PROBE_SVG_ERROR_MAX);
		}
		fputs("</text>", out);
	}
	fputs("</g>\n", out);
}

/* The shared scale's ticks: grid lines over the lanes [top, y), the axis. */
static void
draw_axis(FILE *out, int top, int y, double span_s, double px_per_us)
{
	double step, t, x;
	int decimals, k;

	step = tick_step(span_s);
	decimals = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
	fprintf(out, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
	    "stroke=\"#343a40\"/>\n", PROBE_SVG_LEFT, y, PROBE_SVG_LEFT +
	    PROBE_SVG_PLOT_W, y);
	for (k = 0; (t = k * step) <= span_s + step * 1e-6; k++) {
		x = PROBE_SVG_LEFT + t * 1e6 * px_per_us;
		fprintf(out, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" "
		    "y2=\"%d\" stroke=\"#dee2e6\"/><line x1=\"%.1f\" y1=\"%d\" "
		    "x2=\"%.1f\" y2=\"%d\" stroke=\"#343a40\"/><text x=\"%.1f\" "
		    "y=\"%d\" class=\"a\">%.*f</text>\n", x, top, x, y, x, y, x,
		    y + 5, x, y + 17, decimals, t);
	}
	fprintf(out, "<text x=\"%d\" y=\"%d\" class=\"a\" "
	    "text-anchor=\"start\">s</text>\n", PROBE_SVG_LEFT +
	    PROBE_SVG_PLOT_W + 18, y + 17);
}

/* The height of one panel, as print draws it. */
static int
panel_height(const struct probe_group *group)
{
	int h = 30;

	if (probe_result_common_error(group->rows, group->count) != NULL)
		return h + 24;
	h += 18;
	if (group->server != NULL)
		h += 15 * draw_server_line(NULL, group, 0) + 3;
	return h + (int)group->count * lane_height(group->count) + 52;
}

/* Writes the whole document to out.  Returns 0, or -1 on a write error. */
int
probe_svg_print(FILE *out, const struct probe_group *groups, size_t ngroups)
{
	struct probe_svg_threads *threads;
	int height = PROBE_SVG_TOP + 10, y, lanes_top, lane_h;
	int64_t t0, t1, span_us = 1000;
	double px_per_us;
	const char *common;
	size_t g, i, *order;

	if ((threads = calloc(1, sizeof(*threads))) == NULL)
		return -1;
	for (g = 0; g < ngroups; g++) {
		height += panel_height(&groups[g]);
		time_range(&groups[g], &t0, &t1);
		if (probe_result_common_error(groups[g].rows,
		    groups[g].count) == NULL && t1 - t0 > span_us)
			span_us = t1 - t0;
	}
	/* Colours are given in drawing order, once the number is known. */
	for (g = 0; g < ngroups; g++) {
		if ((order = calloc(groups[g].count ? groups[g].count : 1,
		    sizeof(*order))) == NULL) {
			free(threads);
			return -1;
		}
		probe_result_order(groups[g].rows, groups[g].count, order);
		for (i = 0; i < groups[g].count; i++)
			if (probe_result_ok(&groups[g].rows[order[i]]))
				thread_register(threads,
				    groups[g].rows[order[i]].pid,
				    groups[g].rows[order[i]].thread_id);
		free(order);
	}
	thread_colors(threads);
	/* One scale for all panels: the longest decides. */
	px_per_us = PROBE_SVG_PLOT_W / (double)span_us;
	fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
	    "height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"DejaVu Sans, "
	    "Verdana, sans-serif\">\n"
	    "<defs><pattern id=\"sleep\" width=\"8\" height=\"8\" "
	    "patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">"
	    "<rect width=\"3\" height=\"8\" fill=\"#fff\" fill-opacity=\"0.45\"/>"
	    "</pattern></defs>\n"
	    "<style>.title{font-size:17px;font-weight:bold;fill:" COLOR_TEXT "}"
	    ".sub{font-size:12px;fill:#495057}"
	    ".h{font-size:14px;font-weight:bold;fill:" COLOR_TEXT "}"
	    ".s{font-weight:normal;fill:#495057}"
	    ".n{font-size:11px;text-anchor:end;fill:#495057}"
	    ".t{font-size:11px;fill:#343a40}"
	    ".a{font-size:10px;text-anchor:middle;fill:#343a40}</style>\n"
	    "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n",
	    PROBE_SVG_WIDTH, height, PROBE_SVG_WIDTH, height);
	draw_title(out, groups, ngroups);
	draw_legend(out, 62);
	y = PROBE_SVG_TOP;
	for (g = 0; g < ngroups; g++) {
		const struct probe_group *group = &groups[g];

		time_range(group, &t0, &t1);
		lane_h = lane_height(group->count);
		fprintf(out, "<g class=\"group\" data-url-index=\"%zu\">\n", g);
		draw_heading(out, group, y + 16);
		y += 30;
		if ((common = probe_result_common_error(group->rows,
		    group->count)) != NULL) {
			fprintf(out, "<text x=\"10\" y=\"%d\" class=\"t\">"
			    "failed: ", y + 2);
			xml_short_text(out, common, SA_ERROR_MAX - 1);
			fprintf(out, " (all %zu requests)</text>\n</g>\n",
			    group->count);
			y += 24;
			continue;
		}
		draw_threads_line(out, group, y + 2);
		y += 18;
		if (group->server != NULL)
			y += 15 * draw_server_line(out, group, y + 2) + 3;
		if ((order = calloc(group->count ? group->count : 1,
		    sizeof(*order))) == NULL) {
			free(threads);
			return -1;
		}
		lanes_top = y;
		draw_axis(out, lanes_top, lanes_top + (int)group->count *
		    lane_h + 4, (double)span_us / 1e6, px_per_us);
		draw_blocks(out, group, lanes_top, (int)group->count * lane_h,
		    t0, px_per_us);
		probe_result_order(group->rows, group->count, order);
		for (i = 0; i < group->count; i++, y += lane_h)
			draw_lane(out, &group->rows[order[i]], y, lane_h,
			    t0, px_per_us, threads);
		free(order);
		fputs("</g>\n", out);
		y += 52;
	}
	fputs("</svg>\n", out);
	free(threads);
	return ferror(out) ? -1 : 0;
}

/* Writes the SVG to path.  Returns 0, or -1 with errno. */
int
probe_svg_write(const char *path, const struct probe_group *groups,
    size_t ngroups)
{
	FILE *out;
	int rc;

	if ((out = fopen(path, "w")) == NULL)
		return -1;
	rc = probe_svg_print(out, groups, ngroups);
	if (fclose(out) == EOF)
		rc = -1;
	return rc;
}
