/* SPDX-License-Identifier: ISC */
/*
 * text.c - sanitising and path segments (text.h).
 */
#include "config.h"

#include <string.h>

#include "common/text.h"

void
text_sanitise(const void *data, size_t len, char *out, size_t outsize)
{
	const unsigned char *in = data;
	size_t i;

	if (outsize == 0)
		return;
	if (len > outsize - 1)
		len = outsize - 1;
	for (i = 0; i < len; i++)
		out[i] = in[i] >= 0x20 && in[i] < 0x7f ? (char)in[i] : '.';
	out[len] = '\0';
}

size_t
text_last_segment(const char *uri, const char **segment)
{
	size_t len = strcspn(uri, "?#");
	const char *start;

	while (len > 0 && uri[len - 1] == '/')
		len--;
	start = uri + len;
	while (start > uri && start[-1] != '/')
		start--;
	*segment = start;
	return (size_t)(uri + len - start);
}
