/* SPDX-License-Identifier: ISC */
/*
 * response.h - the response contract's JSON (doc/ARCHITECTURE.md).
 *
 * Both programs build their bodies here, so a field cannot drift between
 * /sync and /async.  The json-c functions (response.c) return malloc'd
 * strings the caller frees; the *_write and *_into ones (response_write.c)
 * fill the caller's buffer with no allocation, no stdio and no json-c, and
 * give the same bytes (tests/unit_common.c compares them).
 */
#ifndef SYNCASYNC_COMMON_RESPONSE_H
#define SYNCASYNC_COMMON_RESPONSE_H

#include <stddef.h>
#include <stdint.h>

struct response_info {
	const char     *message;	/* "sync example" / "async example" */
	int		sleeper;	/* appends " (sleep)" */
	long		thread_id;
	long		pid;
	uint64_t	request_no;
	int64_t		started_us;	/* request_time is derived from it */
	int64_t		finished_us;
	/* How long the request waited, once the server had started it, before
	 * its work began: /async offload, the time to a pool worker taking its
	 * job; 0 where nothing queues it (a timer, /sync, /pool: the time in
	 * the listen backlog is not visible to the worker). */
	int64_t		waited_us;
	const char     *mode;		/* NULL: no "mode" field (sync) */
};

/* The contract body; NULL only when memory runs out.  *len gets its length. */
char *response_json(const struct response_info *info, size_t *len);

/*
 * response_json()'s bytes (its '\n' included, a NUL not) written into buf
 * without json-c: returns the length, or 0 if it does not fit.  As there,
 * message and its " (sleep)" together must stay under 64 bytes.
 */
#define RESPONSE_BODY_MAX 512	/* bytes; the contract body always fits */
size_t response_json_write(const struct response_info *info, char *buf,
    size_t buflen);

/*
 * Serialises obj (JSON_C_TO_STRING_SPACED | NOSLASHESCAPE) into a malloc'd
 * string ending in '\n' (and a NUL not counted in *len), and drops obj
 * (json_object_put).  NULL when obj is NULL or memory runs out.
 */
struct json_object;
char *response_json_finish(struct json_object *obj, size_t *len);

/* {"error": message}; NULL only when memory runs out. */
char *response_error_json(const char *message, size_t *len);
/* response_error_json()'s bytes written into buf (as response_json_write). */
size_t response_error_write(const char *message, char *buf, size_t buflen);

/*
 * Formats the CGI response header block (RFC 3875, section 6.3: "Status:",
 * Content-Type application/json, Content-Length, Cache-Control, and
 * "Allow: GET, HEAD" for a 405) ending in the blank line.  Returns its
 * length, or 0 if it does not fit out.
 */
#define RESPONSE_HEADER_MAX 256
size_t response_cgi_header(char *out, size_t outlen, int status,
    size_t body_len);

/*
 * The whole CGI response: the header block of response_cgi_header() for
 * status and body_len, then the body unless head (HEAD: the headers still
 * give the body's length).  malloc'd, NUL-terminated (the NUL not counted
 * in *len); NULL when body is NULL (so a failed body passes through) or
 * memory runs out.
 */
char *response_build(int status, int head, const char *body,
    size_t body_len, size_t *len);

/* response_build() into buf: its length (a NUL follows, not counted), or
 * 0 if it does not fit. */
size_t response_build_into(int status, int head, const char *body,
    size_t body_len, char *buf, size_t buflen);

/* The reason phrase of the few statuses syncasync sends ("Not Found"). */
const char *response_reason(int status);

#endif
