/* SPDX-License-Identifier: ISC */
/*
 * probe_svg.h - the --svg timeline: one lane per request, grouped by URL.
 *
 * Draws what probe_http measured and probe_result judged; decides nothing.
 */
#ifndef SYNCASYNC_PROBE_SVG_H
#define SYNCASYNC_PROBE_SVG_H

#include <stdio.h>

#include "probe/probe_result.h"

int	probe_svg_print(FILE *, const struct probe_group *, size_t ngroups);
int	probe_svg_write(const char *path, const struct probe_group *,
	    size_t ngroups);

#endif
