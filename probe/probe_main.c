/* SPDX-License-Identifier: ISC */
/*
 * probe_main.c - syncasync-probe: the experiment client.
 *
 * Options and orchestration only: it checks every URL and resolves every
 * host first (probe_http), then for each URL in turn (never interleaved:
 * the server's request counter decides which request sleeps) runs the
 * concurrent GETs, judges them (probe_result), asks an /async server what
 * blocked its loop (probe_stats), prints the table, summary, the server's
 * report and timeline (probe_report), and at the end writes --json and --svg.
 * Exit status: 0 when every request got a 2xx with the contract JSON, 1 when
 * some did not, a host did not resolve or an output file could not be
 * written, 2 for usage errors.
 * Proxy variables (HTTP_PROXY and friends) are never read.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/limits.h"
#include "common/number.h"
#include "probe/probe_http.h"
#include "probe/probe_report.h"
#include "probe/probe_result.h"
#include "probe/probe_stats.h"
#include "probe/probe_svg.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.1"
#endif

#define PROBE_REQUESTS_DEFAULT	10
#define PROBE_TIMEOUT_DEFAULT_US (60 * 1000000ULL)	/* 60 s */
#define PROBE_EXIT_USAGE	2
#define PROBE_STATS_TIMEOUT_US	(10 * 1000000ULL)	/* 10 s at most */

/*
 * After a run against an /async URL: asks its stats sibling for the
 * blocked-loop reports and keeps those of this run in group->server (left
 * NULL for other paths, and when every request failed alike).
 */
static void
ask_server(struct probe_group *group, const struct probe_http_target *target,
    uint64_t timeout_us)
{
	struct probe_http_body *body;
	struct probe_server *server;
	char path[SA_PROBE_URI_MAX];

	if (probe_stats_path(target->target, path, sizeof(path)) == -1 ||
	    probe_result_common_error(group->rows, group->count) != NULL)
		return;
	if ((server = calloc(1, sizeof(*server))) == NULL ||
	    (body = malloc(sizeof(*body))) == NULL) {
		free(server);
		return;
	}
	snprintf(server->url, sizeof(server->url), "http://%s%s",
	    target->host_header, path);
	probe_http_fetch(target, path, timeout_us < PROBE_STATS_TIMEOUT_US ?
	    timeout_us : PROBE_STATS_TIMEOUT_US, body);
	if (body->error[0] != '\0')
		snprintf(server->error, sizeof(server->error), "%s",
		    body->error);
	else if (body->status != 200)
		snprintf(server->error, sizeof(server->error), "HTTP %d",
		    body->status);
	else if (probe_stats_parse(body->data, body->len, &server->stats,
	    server->error, sizeof(server->error)) == 0)
		probe_stats_select(server, group->rows, group->count);
	free(body);
	group->server = server;
}

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: syncasync-probe [options] URL...\n"
	    "Fires N concurrent GETs at each http:// URL (one URL after the\n"
	    "other), shows what each response says, and judges whether the\n"
	    "sleeping request held up the others.\n"
	    "  -n, --requests N     concurrent requests per URL (default %d, "
	    "1..%lu)\n"
	    "      --timeout SEC    per-request timeout (default %llu)\n"
	    "      --sleep SEC      expected sleep, for the verdict (default: "
	    "the\n"
	    "                       sleeper's server-side span)\n"
	    "      --json FILE      write rows and summaries as JSON ('-' = "
	    "stdout)\n"
	    "      --svg FILE       write an SVG timeline\n"
	    "      --label NAME     group label, one per URL in order (repeatable)\n"
	    "  -q, --quiet          no progress lines\n"
	    "  -h, --help           this help\n"
	    "  -V, --version        print the version\n"
	    "After a run against an /async URL it asks the server (URL/stats)\n"
	    "what blocked its event loop, and prints the answer.\n"
	    "Exit status: 0 all requests answered 2xx, 1 some failed or a host\n"
	    "did not resolve, 2 usage.\n",
	    PROBE_REQUESTS_DEFAULT, SA_PROBE_REQUESTS_MAX,
	    PROBE_TIMEOUT_DEFAULT_US / 1000000);
}

/* Seconds in (0, SA_PROBE_SECONDS_MAX_US] into *us; 0, or -1 if not. */
static int
parse_seconds(const char *text, uint64_t *us)
{
	uint64_t value;

	if (number_parse_seconds(text, SA_PROBE_SECONDS_MAX_US, &value) !=
	    NUMBER_OK || value == 0)
		return -1;
	*us = value;
	return 0;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "requests",	required_argument,	NULL, 'n' },
		{ "timeout",	required_argument,	NULL, 't' },
		{ "sleep",	required_argument,	NULL, 's' },
		{ "json",	required_argument,	NULL, 'j' },
		{ "svg",	required_argument,	NULL, 'g' },
		{ "label",	required_argument,	NULL, 'l' },
		{ "quiet",	no_argument,		NULL, 'q' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "version",	no_argument,		NULL, 'V' },
		{ NULL,		0,			NULL, 0 }
	};
	struct probe_http_options options;
	struct probe_group *groups = NULL;
	struct probe_http_target *targets = NULL;
	const char *json_path = NULL, *svg_path = NULL, **labels = NULL;
	char err[SA_ERROR_MAX], max[NUMBER_SECONDS_TEXT];
	uint64_t requests = PROBE_REQUESTS_DEFAULT, sleep_us = 0;
	size_t nlabels = 0, ngroups = 0, g, i;
	int ch, quiet = 0, status = PROBE_EXIT_USAGE;
	FILE *report;

	memset(&options, 0, sizeof(options));
	options.timeout_us = PROBE_TIMEOUT_DEFAULT_US;
	if ((labels = calloc((size_t)argc, sizeof(*labels))) == NULL) {
		fprintf(stderr, "syncasync-probe: out of memory\n");
		return 1;
	}
	while ((ch = getopt_long(argc, argv, "n:qhV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			if (number_parse_uint(optarg, 1, SA_PROBE_REQUESTS_MAX,
			    &requests) != NUMBER_OK) {
				fprintf(stderr, "syncasync-probe: --requests "
				    "must be 1..%lu: %s\n", SA_PROBE_REQUESTS_MAX,
				    optarg);
				goto done;
			}
			break;
		case 't':
		case 's':
			if (parse_seconds(optarg, ch == 't' ?
			    &options.timeout_us : &sleep_us) == -1) {
				number_format_seconds(SA_PROBE_SECONDS_MAX_US,
				    max, sizeof(max));
				fprintf(stderr, "syncasync-probe: --%s must be "
				    "seconds in (0, %s]: %s\n", ch == 't' ?
				    "timeout" : "sleep", max, optarg);
				goto done;
			}
			break;
		case 'j':
			json_path = optarg;
			break;
		case 'g':
			svg_path = optarg;
			break;
		case 'l':
			labels[nlabels++] = optarg;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'h':
			usage(stdout);
			status = 0;
			goto done;
		case 'V':
			printf("syncasync-probe %s\n", PACKAGE_VERSION);
			status = 0;
			goto done;
		default:
			usage(stderr);
			goto done;
		}
	}
	ngroups = (size_t)(argc - optind);
	if (ngroups == 0) {
		fprintf(stderr, "syncasync-probe: no URL given\n");
		usage(stderr);
		goto done;
	}
	if (nlabels > ngroups) {
		fprintf(stderr, "syncasync-probe: %zu labels for %zu URLs\n",
		    nlabels, ngroups);
		goto done;
	}
	if ((targets = calloc(ngroups, sizeof(*targets))) == NULL)
		goto oom;
	for (g = 0; g < ngroups; g++)
		if (probe_http_parse_url(argv[optind + (int)g], &targets[g],
		    err, sizeof(err)) == -1) {
			fprintf(stderr, "syncasync-probe: %s\n", err);
			goto done;
		}

	status = 1;
	/* Every host is resolved before any request is sent. */
	for (g = 0; g < ngroups; g++)
		if (probe_http_resolve(&targets[g], err, sizeof(err)) == -1) {
			fprintf(stderr, "syncasync-probe: %s (%s)\n", err,
			    argv[optind + (int)g]);
			goto done;
		}
	signal(SIGPIPE, SIG_IGN);	/* a server hanging up is a row error */
	options.requests = (size_t)requests;
	options.progress = quiet ? NULL : stderr;
	/* With --json -, stdout is the JSON's: the text report moves aside. */
	report = json_path != NULL && strcmp(json_path, "-") == 0 ? stderr :
	    stdout;
	if ((groups = calloc(ngroups, sizeof(*groups))) == NULL)
		goto oom;
	for (g = 0; g < ngroups; g++) {
		groups[g].url = argv[optind + (int)g];
		groups[g].label = g < nlabels ? labels[g] : NULL;
		groups[g].count = options.requests;
		if ((groups[g].rows = calloc(options.requests,
		    sizeof(*groups[g].rows))) == NULL)
			goto oom;
	}

	status = 0;
	for (g = 0; g < ngroups; g++) {
		struct probe_group *group = &groups[g];

		probe_http_run(&targets[g], group->url, g, &options,
		    group->rows);
		probe_result_summarize(group->rows, group->count,
		    (double)sleep_us / 1e6,
		    &group->summary);
		ask_server(group, &targets[g], options.timeout_us);
		probe_report_table(report, group);
		probe_report_summary(report, group);
		probe_report_server(report, group);
		probe_report_timeline(report, group);
		fflush(report);
		for (i = 0; i < group->count; i++)
			if (!probe_result_ok(&group->rows[i]))
				status = 1;
	}
	if (json_path != NULL && probe_report_json_write(json_path, groups,
	    ngroups, PACKAGE_VERSION) == -1) {
		fprintf(stderr, "syncasync-probe: cannot write %s: %s\n",
		    json_path, strerror(errno));
		status = 1;
	}
	if (svg_path != NULL && probe_svg_write(svg_path, groups,
	    ngroups) == -1) {
		fprintf(stderr, "syncasync-probe: cannot write %s: %s\n",
		    svg_path, strerror(errno));
		status = 1;
	}
	goto done;
oom:
	fprintf(stderr, "syncasync-probe: out of memory\n");
	status = 1;
done:
	if (groups != NULL)
		for (g = 0; g < ngroups; g++) {
			free(groups[g].rows);
			free(groups[g].server);
		}
	free(groups);
	free(targets);
	free(labels);
	return status;
}
