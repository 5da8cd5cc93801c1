/*
 * probe_svg.c - draw the experiment as an SVG timeline.
 *
 * One section per URL: a heading with the verdict, one lane per request in
 * the experiment's order (server request number), and a time axis in seconds
 * from the group's first send.  In a lane the thin grey bar runs from the
 * client's send to the answer; the solid bar inside it is the server-side
 * handling (started_us..finished_us), coloured by thread id; the sleeper is
 * outlined.  A blocking group therefore shows a staircase (handling spans
 * queued one after the other), a non-blocking group a flat line at t = 0.
 * Server times are placed on the client's clock as they are: this is only
 * right when both run on the same machine.
 *
 * Every piece of text goes through xml_text (XML escaping, invalid
 * UTF-8 and control bytes replaced), so the output stays well-formed
 * whatever a server sent.  Each lane is a <g class="lane">; tests count them.
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "probe/probe_svg.h"

#define PROBE_SVG_WIDTH		1150	/* px */
#define PROBE_SVG_LEFT		70	/* px, lane labels */
#define PROBE_SVG_RIGHT		300	/* px, text after the bars */
#define PROBE_SVG_THREADS	256	/* thread ids with an assigned colour */
#define PROBE_SVG_ERROR_MAX	40	/* bytes of error text shown in a lane */

static const char *const probe_svg_palette[] = {
	"#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2",
	"#edc948", "#9c755f", "#ff9da7", "#e15759", "#bab0ac",
};
#define PROBE_SVG_NCOLORS (sizeof(probe_svg_palette) / sizeof(probe_svg_palette[0]))

/* Thread ids in order of first appearance, for stable colours. */
struct probe_svg_threads {
	int64_t	ids[PROBE_SVG_THREADS];
	size_t	count;
	size_t	more;		/* distinct ids beyond the table */
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

static const char *
thread_color(struct probe_svg_threads *threads, int64_t id)
{
	size_t i;

	for (i = 0; i < threads->count; i++)
		if (threads->ids[i] == id)
			return probe_svg_palette[i % PROBE_SVG_NCOLORS];
	if (threads->count < PROBE_SVG_THREADS) {
		threads->ids[threads->count++] = id;
		return probe_svg_palette[i % PROBE_SVG_NCOLORS];
	}
	threads->more++;	/* may count an id twice; only for the legend */
	return probe_svg_palette[(uint64_t)id % PROBE_SVG_NCOLORS];
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
	if (*t1 <= *t0)
		*t1 = *t0 + 1000;
}

static void
draw_heading(FILE *out, const struct probe_group *group, int y)
{
	const struct probe_summary *sum = &group->summary;
	const char *color = "#555555";

	if (sum->verdict == PROBE_VERDICT_BLOCKED)
		color = "#c0392b";
	else if (sum->verdict == PROBE_VERDICT_NOT_BLOCKED)
		color = "#1e8449";
	fprintf(out, "<text x=\"10\" y=\"%d\" class=\"h\" "
	    "xml:space=\"preserve\">", y);
	if (group->label != NULL) {
		/* A label says what the URL is: its path is enough beside it. */
		const char *path = strstr(group->url, "://");

		path = path != NULL ? strchr(path + 3, '/') : NULL;
		xml_text(out, group->label);
		fputs(" \xe2\x80\x94 ", out);	/* em dash */
		xml_text(out, path != NULL ? path : group->url);
	} else
		xml_text(out, group->url);
	fprintf(out, ": <tspan fill=\"%s\">%s</tspan>", color,
	    probe_result_verdict_name(sum->verdict));
	if (sum->verdict == PROBE_VERDICT_BLOCKED ||
	    sum->verdict == PROBE_VERDICT_NOT_BLOCKED)
		fprintf(out, "<tspan class=\"s\"> (%zu of %zu others held up, "
		    "sleep %.2f s; %zu thread%s)</tspan>", sum->held_up,
		    sum->others, sum->sleep_s, sum->distinct_threads,
		    sum->distinct_threads == 1 ? "" : "s");
	else if (sum->verdict == PROBE_VERDICT_FAILED)
		fprintf(out, "<tspan class=\"s\"> (%zu of %zu requests "
		    "failed)</tspan>", sum->failed, sum->requests);
	fputs("</text>\n", out);
}

static void
draw_lane(FILE *out, const struct probe_result *row, int y, int lane_h,
    int64_t t0, double px_per_us, struct probe_svg_threads *threads)
{
	double x1, x2, s1, s2;
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
	fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
	    "height=\"%.1f\" fill=\"%s\"/>", x1, mid - lane_h * 0.15, x2 - x1,
	    lane_h * 0.3, ok ? "#c8c8c8" : "#e74c3c");
	if (ok) {
		s1 = PROBE_SVG_LEFT + (double)(row->started_us - t0) * px_per_us;
		s2 = PROBE_SVG_LEFT + (double)(row->finished_us - t0) *
		    px_per_us;
		if (s2 < s1 + 2)
			s2 = s1 + 2;
		fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
		    "height=\"%.1f\" fill=\"%s\"%s/>", s1, y + lane_h * 0.1,
		    s2 - s1, lane_h * 0.8, thread_color(threads,
		    row->thread_id), sleeper ?
		    " stroke=\"#000\" stroke-width=\"1.5\"" : "");
	}
	if (text) {
		fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" class=\"t\">%.0f ms",
		    x2 + 6, mid + 4, probe_result_latency_ms(row));
		if (sleeper)
			fputs(" <tspan font-weight=\"bold\">sleeper</tspan>",
			    out);
		if (ok)
			fprintf(out, " \xc2\xb7 thread %lld",
			    (long long)row->thread_id);
		else {
			fputs(" \xc2\xb7 ", out);
			xml_short_text(out, row->error,
			    PROBE_SVG_ERROR_MAX);
		}
		fputs("</text>", out);
	}
	fputs("</g>\n", out);
}

static void
draw_axis(FILE *out, int y, int64_t span_us, double px_per_us)
{
	double span_s = (double)span_us / 1e6, step, t, x;
	int plot_w = PROBE_SVG_WIDTH - PROBE_SVG_LEFT - PROBE_SVG_RIGHT;
	int decimals, k;

	step = tick_step(span_s);
	decimals = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
	fprintf(out, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
	    "stroke=\"#333\"/>\n", PROBE_SVG_LEFT, y, PROBE_SVG_LEFT + plot_w,
	    y);
	for (k = 0; (t = k * step) <= span_s + step * 1e-6; k++) {
		x = PROBE_SVG_LEFT + t * 1e6 * px_per_us;
		fprintf(out, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" "
		    "stroke=\"#333\"/><text x=\"%.1f\" y=\"%d\" class=\"a\">"
		    "%.*f</text>\n", x, y, x, y + 5, x, y + 17, decimals, t);
	}
	fprintf(out, "<text x=\"%d\" y=\"%d\" class=\"a\" "
	    "text-anchor=\"end\">seconds since the first send</text>\n",
	    PROBE_SVG_LEFT + plot_w, y + 30);
}

static void
draw_legend(FILE *out, int y, const struct probe_svg_threads *threads)
{
	size_t i, shown = threads->count < 12 ? threads->count : 12;
	int x = 10;

	fprintf(out, "<g class=\"legend\">"
	    "<rect x=\"%d\" y=\"%d\" width=\"30\" height=\"4\" fill=\"#c8c8c8\"/>"
	    "<text x=\"%d\" y=\"%d\" class=\"t\">waiting (send to answer)"
	    "</text>", x, y + 3, x + 36, y + 8);
	x += 200;
	fprintf(out, "<rect x=\"%d\" y=\"%d\" width=\"30\" height=\"12\" "
	    "fill=\"#4e79a7\"/><text x=\"%d\" y=\"%d\" class=\"t\">handled by "
	    "the server (colour = thread)</text>", x, y - 1, x + 36, y + 8);
	x += 270;
	fprintf(out, "<rect x=\"%d\" y=\"%d\" width=\"30\" height=\"12\" "
	    "fill=\"#fff\" stroke=\"#000\" stroke-width=\"1.5\"/><text x=\"%d\" "
	    "y=\"%d\" class=\"t\">sleeper</text>", x, y - 1, x + 36, y + 8);
	x += 110;
	fprintf(out, "<rect x=\"%d\" y=\"%d\" width=\"30\" height=\"4\" "
	    "fill=\"#e74c3c\"/><text x=\"%d\" y=\"%d\" class=\"t\">failed"
	    "</text>", x, y + 3, x + 36, y + 8);
	y += 20;
	x = 10;
	if (shown > 0)
		fprintf(out, "<text x=\"%d\" y=\"%d\" class=\"t\">thread ids:"
		    "</text>", x, y + 9);
	x += 70;
	for (i = 0; i < shown; i++, x += 80) {
		fprintf(out, "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" "
		    "fill=\"%s\"/><text x=\"%d\" y=\"%d\" class=\"t\">%lld"
		    "</text>", x, y - 1, probe_svg_palette[i % PROBE_SVG_NCOLORS],
		    x + 16, y + 9, (long long)threads->ids[i]);
	}
	if (threads->count > shown || threads->more > 0)
		fprintf(out, "<text x=\"%d\" y=\"%d\" class=\"t\">and more "
		    "threads (colours repeat)</text>", x, y + 9);
	fputs("</g>\n", out);
}

/* Writes the whole document to out.  Returns 0, or -1 on a write error. */
int
probe_svg_print(FILE *out, const struct probe_group *groups, size_t ngroups)
{
	struct probe_svg_threads threads;
	int plot_w = PROBE_SVG_WIDTH - PROBE_SVG_LEFT - PROBE_SVG_RIGHT;
	int height = 70, y, lane_h;
	int64_t t0, t1;
	double px_per_us;
	size_t g, i, *order;

	memset(&threads, 0, sizeof(threads));
	for (g = 0; g < ngroups; g++)
		height += 32 + (int)groups[g].count *
		    lane_height(groups[g].count) + 58;
	fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
	    "height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">\n"
	    "<style>.h{font-size:15px;font-weight:bold}.s{font-weight:normal;"
	    "fill:#333}.n{font-size:11px;text-anchor:end;fill:#333}"
	    ".t{font-size:11px;fill:#333}.a{font-size:10px;text-anchor:middle;"
	    "fill:#333}</style>\n"
	    "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n",
	    PROBE_SVG_WIDTH, height, PROBE_SVG_WIDTH, height);
	y = 70;
	for (g = 0; g < ngroups; g++) {
		const struct probe_group *group = &groups[g];

		time_range(group, &t0, &t1);
		px_per_us = plot_w / (double)(t1 - t0);
		lane_h = lane_height(group->count);
		draw_heading(out, group, y + 20);
		y += 32;
		if ((order = calloc(group->count ? group->count : 1,
		    sizeof(*order))) == NULL)
			return -1;
		probe_result_order(group->rows, group->count, order);
		fprintf(out, "<g class=\"group\" data-url-index=\"%zu\">\n", g);
		for (i = 0; i < group->count; i++, y += lane_h)
			draw_lane(out, &group->rows[order[i]], y, lane_h,
			    t0, px_per_us, &threads);
		fputs("</g>\n", out);
		free(order);
		draw_axis(out, y + 4, t1 - t0, px_per_us);
		y += 58;
	}
	draw_legend(out, 16, &threads);
	fputs("</svg>\n", out);
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
