/* SPDX-License-Identifier: ISC */
/*
 * probe_report.h - the probe's text report and its --json output.
 *
 * Formats groups that probe_http filled and probe_result judged; it sends no
 * request and decides nothing.
 */
#ifndef SYNCASYNC_PROBE_REPORT_H
#define SYNCASYNC_PROBE_REPORT_H

#include <stdio.h>

#include <json-c/json.h>

#include "probe/probe_result.h"

#define PROBE_REPORT_TIMELINE_WIDTH	60	/* characters per bar */

void	probe_report_table(FILE *, const struct probe_group *);
void	probe_report_summary(FILE *, const struct probe_group *);
void	probe_report_server(FILE *, const struct probe_group *);
void	probe_report_timeline(FILE *, const struct probe_group *);
struct json_object *probe_report_json(const struct probe_group *,
	    size_t ngroups, const char *version);
int	probe_report_json_write(const char *path, const struct probe_group *,
	    size_t ngroups, const char *version);

#endif
