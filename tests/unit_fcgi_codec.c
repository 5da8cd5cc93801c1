/* SPDX-License-Identifier: ISC */
/*
 * unit_fcgi_codec.c - exact-byte tests for fcgi/fcgi_codec.c.
 *
 * Every encoder is checked against the bytes the FastCGI 1.0 spec prescribes
 * and every decoder against hand-written wire bytes, including the length
 * edges (127/128, 2^31-1), the CVE-2025-23016 wrap shape and each cut of a
 * truncated length.  No I/O beyond the TAP output.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi/fcgi_codec.h"
#include "tests/tap.h"

#define BIG_LEN		(2 * FCGI_MAX_LENGTH + 16)	/* bytes */

static uint8_t big_in[BIG_LEN];
static uint8_t big_out[BIG_LEN + 64];

static void
test_header(void)
{
	static const uint8_t wire[] = { 1, 5, 0x12, 0x34, 0xff, 0xfe, 7, 0 };
	static const uint8_t want_enc[] = { 1, 6, 0xab, 0xcd, 0x01, 0x02, 0, 0 };
	struct fcgi_header hdr;
	uint8_t out[FCGI_HEADER_LEN], bad[FCGI_HEADER_LEN];
	size_t len;

	TAP_EQ_INT(fcgi_header_decode(wire, sizeof(wire), &hdr), FCGI_CODEC_OK,
	    "header decode ok");
	TAP_EQ_INT(hdr.version, 1, "header version");
	TAP_EQ_INT(hdr.type, FCGI_STDIN, "header type");
	TAP_EQ_INT(hdr.request_id, 0x1234, "header request id big-endian");
	TAP_EQ_INT(hdr.content_length, 0xfffe, "header content length");
	TAP_EQ_INT(hdr.padding_length, 7, "header padding length");
	TAP_EQ_INT(fcgi_header_record_len(&hdr), 8 + 0xfffe + 7,
	    "record length includes header, content and padding");

	for (len = 0; len < FCGI_HEADER_LEN; len++)
		TAP_EQ_INT(fcgi_header_decode(wire, len, &hdr),
		    FCGI_CODEC_SHORT, "header decode short");

	memcpy(bad, wire, sizeof(bad));
	bad[0] = 0;
	TAP_EQ_INT(fcgi_header_decode(bad, sizeof(bad), &hdr),
	    FCGI_CODEC_BAD_VERSION, "version 0 refused");
	bad[0] = 2;
	TAP_EQ_INT(fcgi_header_decode(bad, sizeof(bad), &hdr),
	    FCGI_CODEC_BAD_VERSION, "version 2 refused");
	TAP_EQ_INT(hdr.version, 2, "bad version still decoded for the log");
	bad[0] = 'G';	/* an HTTP client talking to the FastCGI port */
	TAP_EQ_INT(fcgi_header_decode(bad, sizeof(bad), &hdr),
	    FCGI_CODEC_BAD_VERSION, "HTTP request refused");

	fcgi_header_encode(out, FCGI_STDOUT, 0xabcd, 0x0102);
	TAP_EQ_MEM(out, want_enc, sizeof(want_enc), "header encode bytes");
	TAP_EQ_INT(fcgi_header_decode(out, sizeof(out), &hdr), FCGI_CODEC_OK,
	    "encoded header decodes");
	TAP_EQ_INT(hdr.content_length, 0x0102, "round trip content length");
	TAP_EQ_INT(hdr.padding_length, 0, "encoder never pads");
}

/*
 * Name-value cases: head bytes, then data_len bytes of 'x' appended; the
 * expected result and, for OK, the lengths decoded.
 */
struct nv_case {
	const char	*what;
	uint8_t		 head[8];
	size_t		 head_len;
	size_t		 data_len;
	enum fcgi_codec_result want;
	size_t		 name_len;
	size_t		 value_len;
};

static const struct nv_case nv_cases[] = {
	{ "empty name and value", { 0, 0 }, 2, 0, FCGI_CODEC_OK, 0, 0 },
	{ "1-byte lengths", { 3, 2 }, 2, 5, FCGI_CODEC_OK, 3, 2 },
	{ "127 in 1 byte", { 0x7f, 0 }, 2, 127, FCGI_CODEC_OK, 127, 0 },
	{ "127 value", { 0, 0x7f }, 2, 127, FCGI_CODEC_OK, 0, 127 },
	{ "128 in 4 bytes", { 0x80, 0, 0, 0x80, 0 }, 5, 128, FCGI_CODEC_OK,
	    128, 0 },
	{ "128 value in 4 bytes", { 1, 0x80, 0, 0, 0x80 }, 5, 129,
	    FCGI_CODEC_OK, 1, 128 },
	{ "5 in non-minimal 4 bytes", { 0x80, 0, 0, 5, 0x80, 0, 0, 1 }, 8, 6,
	    FCGI_CODEC_OK, 5, 1 },
	{ "256 in 4 bytes", { 0x80, 0, 1, 0, 0 }, 5, 256, FCGI_CODEC_OK,
	    256, 0 },
	{ "name one past data", { 5, 0 }, 2, 4, FCGI_CODEC_BAD_LENGTH, 0, 0 },
	{ "value one past data", { 1, 5 }, 2, 5, FCGI_CODEC_BAD_LENGTH, 0, 0 },
	{ "2^31-1 name, no data", { 0xff, 0xff, 0xff, 0xff, 0 }, 5, 16,
	    FCGI_CODEC_BAD_LENGTH, 0, 0 },
	{ "2^31-1 value, no data", { 1, 0xff, 0xff, 0xff, 0xff }, 5, 16,
	    FCGI_CODEC_BAD_LENGTH, 0, 0 },
	/* CVE-2025-23016: 0x7fffffff + 0x7fffffff + 2 wraps 32 bits to 0. */
	{ "CVE wrap shape", { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
	    8, 16, FCGI_CODEC_BAD_LENGTH, 0, 0 },
	{ "CVE wrap shape, +1 name", { 0xff, 0xff, 0xff, 0xff,
	    0x80, 0, 0, 1 }, 8, 16, FCGI_CODEC_BAD_LENGTH, 0, 0 },
	{ "value length missing", { 1 }, 1, 0, FCGI_CODEC_TRUNCATED_LENGTH,
	    0, 0 },
	{ "4-byte name cut at 1", { 0x80 }, 1, 0,
	    FCGI_CODEC_TRUNCATED_LENGTH, 0, 0 },
	{ "4-byte name cut at 2", { 0x80, 0 }, 2, 0,
	    FCGI_CODEC_TRUNCATED_LENGTH, 0, 0 },
	{ "4-byte name cut at 3", { 0x80, 0, 0 }, 3, 0,
	    FCGI_CODEC_TRUNCATED_LENGTH, 0, 0 },
	{ "4-byte value cut at 1", { 1, 0x80 }, 2, 0,
	    FCGI_CODEC_TRUNCATED_LENGTH, 0, 0 },
	{ "4-byte value cut at 2", { 1, 0x80, 0 }, 3, 0,
	    FCGI_CODEC_TRUNCATED_LENGTH, 0, 0 },
	{ "4-byte value cut at 3", { 1, 0x80, 0, 0 }, 4, 0,
	    FCGI_CODEC_TRUNCATED_LENGTH, 0, 0 },
	{ "2^31-1 name cut at 3", { 0xff, 0xff, 0xff }, 3, 0,
	    FCGI_CODEC_TRUNCATED_LENGTH, 0, 0 },
};

static void
test_nv_cases(void)
{
	static uint8_t buf[8 + 512];
	const struct nv_case *c;
	struct fcgi_nv nv;
	size_t i, offset, len;
	enum fcgi_codec_result result;
	char what[128];

	for (i = 0; i < sizeof(nv_cases) / sizeof(nv_cases[0]); i++) {
		c = &nv_cases[i];
		memcpy(buf, c->head, c->head_len);
		memset(buf + c->head_len, 'x', c->data_len);
		len = c->head_len + c->data_len;
		offset = 0;
		memset(&nv, 0, sizeof(nv));
		result = fcgi_nv_next(buf, len, &offset, &nv);
		snprintf(what, sizeof(what), "nv: %s", c->what);
		TAP_EQ_INT(result, c->want, what);
		if (c->want != FCGI_CODEC_OK) {
			TAP_EQ_INT(offset, 0, "offset unchanged on error");
			continue;
		}
		TAP_EQ_INT(nv.name_len, c->name_len, "name length");
		TAP_EQ_INT(nv.value_len, c->value_len, "value length");
		TAP_OK(nv.name == buf + len - c->data_len, "name position");
		TAP_EQ_INT(offset, len - c->data_len + c->name_len +
		    c->value_len, "offset after the pair");
	}
}

static void
test_nv_iteration(void)
{
	/* "A"="1", ""="", 128-byte name = "v", then a stray length byte. */
	uint8_t buf[4 + 2 + (4 + 1 + 128 + 1) + 1];
	struct fcgi_nv nv;
	size_t offset = 0, pos = 0;

	buf[pos++] = 1; buf[pos++] = 1; buf[pos++] = 'A'; buf[pos++] = '1';
	buf[pos++] = 0; buf[pos++] = 0;
	buf[pos++] = 0x80; buf[pos++] = 0; buf[pos++] = 0; buf[pos++] = 128;
	buf[pos++] = 1;
	memset(buf + pos, 'n', 128);
	pos += 128;
	buf[pos++] = 'v';
	TAP_EQ_INT(pos, sizeof(buf) - 1, "iteration fixture size");

	TAP_EQ_INT(fcgi_nv_next(buf, pos, &offset, &nv), FCGI_CODEC_OK,
	    "pair 1");
	TAP_OK(nv.name_len == 1 && nv.name[0] == 'A' && nv.value_len == 1 &&
	    nv.value[0] == '1', "pair 1 is A=1");
	TAP_EQ_INT(fcgi_nv_next(buf, pos, &offset, &nv), FCGI_CODEC_OK,
	    "pair 2");
	TAP_OK(nv.name_len == 0 && nv.value_len == 0, "pair 2 is empty");
	TAP_EQ_INT(fcgi_nv_next(buf, pos, &offset, &nv), FCGI_CODEC_OK,
	    "pair 3");
	TAP_OK(nv.name_len == 128 && nv.value_len == 1 && nv.value[0] == 'v',
	    "pair 3 is 128-byte name = v");
	TAP_EQ_INT(fcgi_nv_next(buf, pos, &offset, &nv), FCGI_CODEC_DONE,
	    "then done");
	TAP_EQ_INT(offset, pos, "offset at the end");
	TAP_EQ_INT(fcgi_nv_next(buf, pos, &offset, &nv), FCGI_CODEC_DONE,
	    "done again");

	buf[pos] = 0x05;	/* a stray name length, no value length */
	TAP_EQ_INT(fcgi_nv_next(buf, pos + 1, &offset, &nv),
	    FCGI_CODEC_TRUNCATED_LENGTH, "trailing stray byte");
	offset = pos + 2;
	TAP_EQ_INT(fcgi_nv_next(buf, pos + 1, &offset, &nv),
	    FCGI_CODEC_BAD_LENGTH, "offset past the end");
	offset = 0;
	TAP_EQ_INT(fcgi_nv_next(NULL, 0, &offset, &nv), FCGI_CODEC_DONE,
	    "empty buffer is done");
}

static void
test_nv_encode(void)
{
	static const uint8_t want_short[] = { 1, 2, 'A', 'b', 'c' };
	uint8_t name[200], out[256];
	size_t written = 0, offset = 0;
	struct fcgi_nv nv;

	TAP_EQ_INT(fcgi_nv_encode((const uint8_t *)"A", 1,
	    (const uint8_t *)"bc", 2, out, sizeof(out), &written),
	    FCGI_CODEC_OK, "encode short pair");
	TAP_EQ_INT(written, 5, "short pair size");
	TAP_EQ_MEM(out, want_short, sizeof(want_short), "short pair bytes");

	memset(name, 'n', sizeof(name));
	TAP_EQ_INT(fcgi_nv_encode(name, 127, NULL, 0, out, sizeof(out),
	    &written), FCGI_CODEC_OK, "encode 127-byte name");
	TAP_OK(written == 129 && out[0] == 0x7f && out[1] == 0,
	    "127 uses the 1-byte form");
	TAP_EQ_INT(fcgi_nv_encode(name, 128, (const uint8_t *)"v", 1, out,
	    sizeof(out), &written), FCGI_CODEC_OK, "encode 128-byte name");
	TAP_OK(written == 4 + 1 + 128 + 1 && out[0] == 0x80 && out[1] == 0 &&
	    out[2] == 0 && out[3] == 0x80 && out[4] == 1 && out[5] == 'n' &&
	    out[133] == 'v', "128 uses the 4-byte form");
	TAP_EQ_INT(fcgi_nv_next(out, written, &offset, &nv), FCGI_CODEC_OK,
	    "128-byte pair decodes");
	TAP_OK(nv.name_len == 128 && nv.value_len == 1, "round trip lengths");

	memset(out, 0xee, sizeof(out));
	TAP_EQ_INT(fcgi_nv_encode((const uint8_t *)"A", 1,
	    (const uint8_t *)"bc", 2, out, 4, &written), FCGI_CODEC_NO_SPACE,
	    "one byte short of space");
	TAP_EQ_INT(out[0], 0xee, "nothing written without space");
	TAP_EQ_INT(fcgi_nv_encode((const uint8_t *)"A", 1,
	    (const uint8_t *)"bc", 2, out, 5, &written), FCGI_CODEC_OK,
	    "exact space");
	TAP_EQ_INT(fcgi_nv_encode(name, 0x80000000UL, NULL, 0, out,
	    sizeof(out), &written), FCGI_CODEC_BAD_LENGTH,
	    "2^31 name length refused");
	TAP_EQ_INT(fcgi_nv_encode(name, 0, name, 0x80000000UL, out,
	    sizeof(out), &written), FCGI_CODEC_BAD_LENGTH,
	    "2^31 value length refused");
	TAP_EQ_INT(fcgi_nv_encode(name, 0x7fffffffUL, NULL, 0, out,
	    sizeof(out), &written), FCGI_CODEC_NO_SPACE,
	    "2^31-1 fits the format, not the buffer");
}

static void
test_bodies(void)
{
	static const uint8_t begin[] = { 0, 1, 1, 0, 0, 0, 0, 0 };
	static const uint8_t begin_odd[] = { 0x02, 0x03, 0xfe, 9, 9, 9, 9, 9,
	    9 };
	static const uint8_t want_end_body[] = { 1, 2, 3, 4, 2, 0, 0, 0 };
	static const uint8_t want_end[] = { 1, 3, 0, 7, 0, 8, 0, 0,
	    0xff, 0xff, 0xff, 0xfe, 3, 0, 0, 0 };
	static const uint8_t want_unknown[] = { 1, 11, 0, 0, 0, 8, 0, 0,
	    200, 0, 0, 0, 0, 0, 0, 0 };
	struct fcgi_begin_body body = { 0, 0 };
	uint8_t out[32];
	size_t len;

	TAP_EQ_INT(fcgi_begin_body_decode(begin, sizeof(begin), &body),
	    FCGI_CODEC_OK, "BEGIN body decodes");
	TAP_OK(body.role == FCGI_RESPONDER && body.flags == FCGI_KEEP_CONN,
	    "responder with KEEP_CONN");
	TAP_EQ_INT(fcgi_begin_body_decode(begin_odd, sizeof(begin_odd), &body),
	    FCGI_CODEC_OK, "BEGIN body with a trailing byte");
	TAP_OK(body.role == 0x0203 && body.flags == 0xfe,
	    "role big-endian, flags raw");
	for (len = 0; len < FCGI_CODEC_BODY_LEN; len++)
		TAP_EQ_INT(fcgi_begin_body_decode(begin, len, &body),
		    FCGI_CODEC_BAD_LENGTH, "short BEGIN body refused");

	fcgi_end_body_encode(out, 0x01020304, FCGI_OVERLOADED);
	TAP_EQ_MEM(out, want_end_body, sizeof(want_end_body),
	    "END body bytes");
	fcgi_end_record_encode(out, 7, 0xfffffffe, FCGI_UNKNOWN_ROLE);
	TAP_EQ_MEM(out, want_end, sizeof(want_end), "END record bytes");
	fcgi_unknown_type_record_encode(out, 200);
	TAP_EQ_MEM(out, want_unknown, sizeof(want_unknown),
	    "UNKNOWN_TYPE record bytes");
	fcgi_unknown_type_body_encode(out, 42);
	TAP_OK(out[0] == 42 && out[1] == 0 && out[7] == 0,
	    "UNKNOWN_TYPE body bytes");
}

/* Checks the header at out: a STDOUT record for id 1 with len bytes. */
static int
is_stdout_header(const uint8_t *out, size_t len)
{
	return out[0] == 1 && out[1] == FCGI_STDOUT && out[2] == 0 &&
	    out[3] == 1 && out[4] == (uint8_t)(len >> 8) &&
	    out[5] == (uint8_t)len && out[6] == 0 && out[7] == 0;
}

static void
test_stream(void)
{
	static const uint8_t want_end[] = { 1, 6, 0, 1, 0, 0, 0, 0 };
	static const struct {
		size_t len, size;
	} sizes[] = {
		{ 0, 0 }, { 1, 9 }, { 65534, 65542 }, { 65535, 65543 },
		{ 65536, 65536 + 16 }, { 131070, 131070 + 16 },
		{ 131071, 131071 + 24 },
	};
	size_t i, size = 0, written = 0;
	uint8_t end[FCGI_HEADER_LEN];

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		TAP_EQ_INT(fcgi_stream_size(sizes[i].len, &size),
		    FCGI_CODEC_OK, "stream size ok");
		TAP_EQ_INT(size, sizes[i].size, "stream size exact");
	}
	TAP_EQ_INT(fcgi_stream_size(SIZE_MAX, &size), FCGI_CODEC_BAD_LENGTH,
	    "stream size overflow refused");

	for (i = 0; i < BIG_LEN; i++)
		big_in[i] = (uint8_t)(i * 7);

	TAP_EQ_INT(fcgi_stream_encode(FCGI_STDOUT, 1, big_in, 0, big_out, 0,
	    &written), FCGI_CODEC_OK, "0 bytes encode");
	TAP_EQ_INT(written, 0, "0 bytes write nothing, no terminator");

	TAP_EQ_INT(fcgi_stream_encode(FCGI_STDOUT, 1, big_in, 65535, big_out,
	    sizeof(big_out), &written), FCGI_CODEC_OK, "65535 bytes encode");
	TAP_EQ_INT(written, 65543, "65535 bytes are one record");
	TAP_OK(is_stdout_header(big_out, 65535), "header says 0xffff");
	TAP_EQ_MEM(big_out + 8, big_in, 65535, "65535 data bytes");

	TAP_EQ_INT(fcgi_stream_encode(FCGI_STDOUT, 1, big_in, 65536, big_out,
	    sizeof(big_out), &written), FCGI_CODEC_OK, "65536 bytes encode");
	TAP_EQ_INT(written, 65536 + 16, "65536 bytes are two records");
	TAP_OK(is_stdout_header(big_out, 65535), "first record full");
	TAP_EQ_MEM(big_out + 8, big_in, 65535, "first record data");
	TAP_OK(is_stdout_header(big_out + 65543, 1), "second record 1 byte");
	TAP_EQ_INT(big_out[65551], big_in[65535], "second record data");

	TAP_EQ_INT(fcgi_stream_encode(FCGI_STDOUT, 1, big_in, BIG_LEN,
	    big_out, sizeof(big_out), &written), FCGI_CODEC_OK,
	    "3 records encode");
	TAP_EQ_INT(written, BIG_LEN + 24, "3 records size");
	TAP_OK(is_stdout_header(big_out + 2 * 65543, 16), "third record");
	TAP_EQ_MEM(big_out + 2 * 65543 + 8, big_in + 2 * 65535, 16,
	    "third record data");

	memset(big_out, 0xee, 16);
	TAP_EQ_INT(fcgi_stream_encode(FCGI_STDOUT, 1, big_in, 65536, big_out,
	    65536 + 15, &written), FCGI_CODEC_NO_SPACE,
	    "one byte short of space");
	TAP_EQ_INT(big_out[0], 0xee, "nothing written without space");

	TAP_EQ_INT(fcgi_record_encode(FCGI_STDOUT, 1, big_in, 65536, big_out,
	    sizeof(big_out), &written), FCGI_CODEC_BAD_LENGTH,
	    "single record over 65535 refused");
	TAP_EQ_INT(fcgi_record_encode(FCGI_STDOUT, 1, NULL, 0, big_out, 8,
	    &written), FCGI_CODEC_OK, "empty record");
	TAP_OK(written == 8 && is_stdout_header(big_out, 0),
	    "empty record is a terminator");
	TAP_EQ_INT(fcgi_record_encode(FCGI_STDOUT, 1, big_in, 1, big_out, 8,
	    &written), FCGI_CODEC_NO_SPACE, "record without space");

	fcgi_stream_end_encode(end, FCGI_STDOUT, 1);
	TAP_EQ_MEM(end, want_end, sizeof(want_end), "terminator bytes");
}

static void
test_strerror(void)
{
	enum fcgi_codec_result result;

	for (result = FCGI_CODEC_OK; result <= FCGI_CODEC_NO_SPACE; result++)
		TAP_OK(fcgi_codec_strerror(result) != NULL &&
		    fcgi_codec_strerror(result)[0] != '\0', "strerror");
}

int
main(void)
{
	test_header();
	test_nv_cases();
	test_nv_iteration();
	test_nv_encode();
	test_bodies();
	test_stream();
	test_strerror();
	return tap_done();
}
