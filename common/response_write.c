/* SPDX-License-Identifier: ISC */
/*
 * response_write.c - the contract JSON written without json-c, byte for
 * byte what response.c's json-c path gives, and the CGI header block
 * (response.h): no allocation, no stdio, for /async's hot path and for
 * sync_cgi, which then loads no JSON library.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/response.h"

/* A bounded output cursor: once full, it stays full and the result is 0. */
struct out {
	char	*p;
	char	*end;
	int	 full;
};

static void
out_bytes(struct out *o, const char *s, size_t len)
{
	if (o->full || (size_t)(o->end - o->p) < len) {
		o->full = 1;
		return;
	}
	memcpy(o->p, s, len);
	o->p += len;
}

#define OUT_LIT(o, lit)	out_bytes((o), (lit), sizeof(lit) - 1)

/* Two digits at a time: half the divisions of one at a time. */
static void
out_u64(struct out *o, uint64_t v)
{
	static const char pairs[] =
	    "00010203040506070809101112131415161718192021222324252627282930"
	    "31323334353637383940414243444546474849505152535455565758596061"
	    "62636465666768697071727374757677787980818283848586878889909192"
	    "93949596979899";
	char digits[20], *d = digits + sizeof(digits);

	while (v >= 100) {
		d -= 2;
		memcpy(d, pairs + 2 * (v % 100), 2);
		v /= 100;
	}
	if (v >= 10) {
		d -= 2;
		memcpy(d, pairs + 2 * v, 2);
	} else
		*--d = (char)('0' + v);
	out_bytes(o, d, (size_t)(digits + sizeof(digits) - d));
}

static void
out_i64(struct out *o, int64_t v)
{
	if (v < 0) {
		OUT_LIT(o, "-");
		out_u64(o, (uint64_t)0 - (uint64_t)v);
	} else
		out_u64(o, (uint64_t)v);
}

/* A JSON string as json-c escapes it with JSON_C_TO_STRING_NOSLASHESCAPE. */
static void
out_string(struct out *o, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const char *run = s;
	char esc[6] = { '\\', 'u', '0', '0', 0, 0 };

	OUT_LIT(o, "\"");
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		out_bytes(o, run, (size_t)(s - run));
		run = s + 1;
		switch (c) {
		case '\b': OUT_LIT(o, "\\b"); break;
		case '\n': OUT_LIT(o, "\\n"); break;
		case '\r': OUT_LIT(o, "\\r"); break;
		case '\t': OUT_LIT(o, "\\t"); break;
		case '\f': OUT_LIT(o, "\\f"); break;
		case '"': OUT_LIT(o, "\\\""); break;
		case '\\': OUT_LIT(o, "\\\\"); break;
		default:
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 0xf];
			out_bytes(o, esc, sizeof(esc));
			break;
		}
	}
	out_bytes(o, run, (size_t)(s - run));
	OUT_LIT(o, "\"");
}

size_t
response_json_write(const struct response_info *info, char *buf,
    size_t buflen)
{
	struct out o = { buf, buf + buflen, 0 };
	char request_time[CLOCK_TIME_LEN];

	clock_format_local(info->started_us, request_time);
	OUT_LIT(&o, "{ \"message\": ");
	/* The message as a JSON string without its closing quote. */
	out_string(&o, info->message);
	if (!o.full)
		o.p--;
	if (info->sleeper)
		OUT_LIT(&o, " (sleep)");
	OUT_LIT(&o, "\", \"thread_id\": ");
	out_i64(&o, info->thread_id);
	OUT_LIT(&o, ", \"pid\": ");
	out_i64(&o, info->pid);
	OUT_LIT(&o, ", \"request_time\": ");
	out_string(&o, request_time);
	OUT_LIT(&o, ", \"request_no\": ");
	out_u64(&o, info->request_no);
	OUT_LIT(&o, ", \"started_us\": ");
	out_i64(&o, info->started_us);
	OUT_LIT(&o, ", \"finished_us\": ");
	out_i64(&o, info->finished_us);
	OUT_LIT(&o, ", \"waited_us\": ");
	out_i64(&o, info->waited_us);
	if (info->mode != NULL) {
		OUT_LIT(&o, ", \"mode\": ");
		out_string(&o, info->mode);
	}
	OUT_LIT(&o, " }\n");
	return o.full ? 0 : (size_t)(o.p - buf);
}

size_t
response_error_write(const char *message, char *buf, size_t buflen)
{
	struct out o = { buf, buf + buflen, 0 };

	OUT_LIT(&o, "{ \"error\": ");
	out_string(&o, message);
	OUT_LIT(&o, " }\n");
	return o.full ? 0 : (size_t)(o.p - buf);
}

size_t
response_cgi_header(char *buf, size_t buflen, int status, size_t body_len)
{
	struct out o = { buf, buf + buflen, 0 };
	const char *reason = response_reason(status);

	OUT_LIT(&o, "Status: ");
	out_i64(&o, status);
	OUT_LIT(&o, " ");
	out_bytes(&o, reason, strlen(reason));
	OUT_LIT(&o, "\r\n");
	if (status == 405)
		OUT_LIT(&o, "Allow: GET, HEAD\r\n");
	OUT_LIT(&o, "Content-Type: application/json\r\n"
	    "Content-Length: ");
	out_u64(&o, body_len);
	OUT_LIT(&o, "\r\nCache-Control: no-store\r\n\r\n");
	/* Room for a NUL, as snprintf left. */
	if (o.full || o.p == o.end)
		return 0;
	*o.p = '\0';
	return (size_t)(o.p - buf);
}

const char *
response_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	}
	return "Unknown";
}

char *
response_build(int status, int head, const char *body, size_t body_len,
    size_t *len)
{
	size_t size = RESPONSE_HEADER_MAX + (head ? 0 : body_len) + 1;
	char *out;

	if (body == NULL || (out = malloc(size)) == NULL)
		return NULL;
	if ((*len = response_build_into(status, head, body, body_len, out,
	    size)) == 0) {
		free(out);
		return NULL;
	}
	return out;
}

size_t
response_build_into(int status, int head, const char *body, size_t body_len,
    char *buf, size_t buflen)
{
	size_t header_len, sent = head ? 0 : body_len;

	header_len = response_cgi_header(buf, buflen, status, body_len);
	if (header_len == 0 || buflen - header_len <= sent)
		return 0;
	memcpy(buf + header_len, body, sent);
	buf[header_len + sent] = '\0';
	return header_len + sent;
}
