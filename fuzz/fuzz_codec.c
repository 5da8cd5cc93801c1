/* SPDX-License-Identifier: ISC */
/*
 * fuzz_codec.c - fuzz target for the pure FastCGI codec,
 * fcgi/fcgi_codec.c.
 *
 * The input is read three ways at once: as a stream of records, framed as
 * the connection layer frames them (BEGIN_REQUEST bodies decoded, PARAMS and
 * GET_VALUES contents iterated as name-value pairs); as one bare name-value
 * buffer (a reassembled PARAMS stream: the CVE-2025-23016 shape lives here);
 * and as data for the encoders, whose output must decode back to the input.
 * Every decoded pair must lie inside the buffer it came from, and every pair
 * re-encoded by fcgi_nv_encode must decode to the same bytes.  It does not
 * judge the protocol's ordering rules: that is fuzz_request.c.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi/fcgi_codec.h"
#include "fuzz/fuzz.h"

/* Inputs longer than this skip the encoder round trips (bytes); they only
 * slow the fuzzer down, and the decoders still see them whole. */
#define FUZZ_CODEC_ENCODE_MAX	(2 * FCGI_MAX_LENGTH + 16)

/* A pair lies inside buf[0, len) and ends where the offset says. */
static void
check_pair(const uint8_t *buf, size_t len, size_t before, size_t after,
    const struct fcgi_nv *nv)
{
	FUZZ_CHECK(after > before && after <= len);
	FUZZ_CHECK(nv->name >= buf + before && nv->name <= buf + len);
	FUZZ_CHECK(nv->name_len <= (size_t)(buf + len - nv->name));
	FUZZ_CHECK(nv->value == nv->name + nv->name_len);
	FUZZ_CHECK(nv->value_len <= (size_t)(buf + len - nv->value));
	FUZZ_CHECK(nv->value + nv->value_len == buf + after);
	FUZZ_CHECK(nv->name_len <= FCGI_CODEC_NV_LEN_MAX);
	FUZZ_CHECK(nv->value_len <= FCGI_CODEC_NV_LEN_MAX);
}

/* fcgi_nv_encode of nv decodes to exactly nv and then DONE. */
static void
check_nv_round_trip(const struct fcgi_nv *nv)
{
	struct fcgi_nv back;
	size_t need = 8 + nv->name_len + nv->value_len, written = 0;
	size_t offset = 0;
	uint8_t *out;

	if ((out = malloc(need)) == NULL)
		return;
	/* One byte short must be refused, and write nothing we read. */
	FUZZ_CHECK(fcgi_nv_encode(nv->name, nv->name_len, nv->value,
	    nv->value_len, out, 1, &written) == FCGI_CODEC_NO_SPACE);
	FUZZ_CHECK(fcgi_nv_encode(nv->name, nv->name_len, nv->value,
	    nv->value_len, out, need, &written) == FCGI_CODEC_OK);
	FUZZ_CHECK(written <= need && written >= 2 + nv->name_len +
	    nv->value_len);
	FUZZ_CHECK(fcgi_nv_encode(nv->name, nv->name_len, nv->value,
	    nv->value_len, out, written - 1, &need) == FCGI_CODEC_NO_SPACE);
	FUZZ_CHECK(fcgi_nv_next(out, written, &offset, &back) ==
	    FCGI_CODEC_OK);
	FUZZ_CHECK(offset == written);
	FUZZ_CHECK(back.name_len == nv->name_len &&
	    back.value_len == nv->value_len);
	FUZZ_CHECK(memcmp(back.name, nv->name, nv->name_len) == 0);
	FUZZ_CHECK(memcmp(back.value, nv->value, nv->value_len) == 0);
	FUZZ_CHECK(fcgi_nv_next(out, written, &offset, &back) ==
	    FCGI_CODEC_DONE);
	free(out);
}

/*
 * Iterates buf as name-value pairs to the end or the first error; checks
 * each pair and, if round_trip, re-encodes it.  Returns the pair count.
 */
static size_t
walk_pairs(const uint8_t *buf, size_t len, int round_trip)
{
	struct fcgi_nv nv, untouched;
	enum fcgi_codec_result result;
	size_t offset = 0, before, count = 0;

	for (;;) {
		before = offset;
		memset(&nv, 0xa5, sizeof(nv));
		untouched = nv;
		result = fcgi_nv_next(buf, len, &offset, &nv);
		FUZZ_CHECK(fcgi_codec_strerror(result) != NULL);
		if (result != FCGI_CODEC_OK) {
			/* Errors leave *offset and *out alone. */
			FUZZ_CHECK(offset == before);
			FUZZ_CHECK(memcmp(&nv, &untouched, sizeof(nv)) == 0);
			FUZZ_CHECK(result == FCGI_CODEC_DONE ?
			    offset == len : offset < len);
			FUZZ_CHECK(result == FCGI_CODEC_DONE ||
			    result == FCGI_CODEC_TRUNCATED_LENGTH ||
			    result == FCGI_CODEC_BAD_LENGTH);
			break;
		}
		check_pair(buf, len, before, offset, &nv);
		if (round_trip)
			check_nv_round_trip(&nv);
		count++;
	}
	/* An offset past the end is an error, never a read. */
	offset = len + 1;
	FUZZ_CHECK(fcgi_nv_next(buf, len, &offset, &nv) ==
	    FCGI_CODEC_BAD_LENGTH);
	return count;
}

/* Frames data as records, as fcgi_conn.c does, and decodes each body. */
static void
walk_records(const uint8_t *data, size_t size)
{
	struct fcgi_header hdr;
	struct fcgi_begin_body begin;
	enum fcgi_codec_result result;
	size_t pos = 0, total, short_len;
	uint8_t again[FCGI_HEADER_LEN];

	while (pos < size) {
		short_len = size - pos < FCGI_HEADER_LEN ? size - pos :
		    FCGI_HEADER_LEN - 1;
		FUZZ_CHECK(fcgi_header_decode(data + pos, short_len, &hdr) ==
		    FCGI_CODEC_SHORT);
		result = fcgi_header_decode(data + pos, size - pos, &hdr);
		if (result == FCGI_CODEC_SHORT) {
			FUZZ_CHECK(size - pos < FCGI_HEADER_LEN);
			return;
		}
		FUZZ_CHECK(hdr.version == data[pos]);
		FUZZ_CHECK(hdr.type == data[pos + 1]);
		FUZZ_CHECK(hdr.padding_length == data[pos + 6]);
		if (result == FCGI_CODEC_BAD_VERSION) {
			FUZZ_CHECK(data[pos] != FCGI_VERSION_1);
			return;
		}
		FUZZ_CHECK(result == FCGI_CODEC_OK);
		total = fcgi_header_record_len(&hdr);
		FUZZ_CHECK(total == FCGI_HEADER_LEN + (size_t)hdr.content_length
		    + hdr.padding_length);
		/* The header re-encodes to the same bytes, padding aside. */
		fcgi_header_encode(again, hdr.type, hdr.request_id,
		    hdr.content_length);
		FUZZ_CHECK(memcmp(again, data + pos, 6) == 0);
		if (total > size - pos)
			return;		/* truncated record */
		if (hdr.type == FCGI_BEGIN_REQUEST) {
			result = fcgi_begin_body_decode(data + pos +
			    FCGI_HEADER_LEN, hdr.content_length, &begin);
			FUZZ_CHECK(result == (hdr.content_length <
			    FCGI_CODEC_BODY_LEN ? FCGI_CODEC_BAD_LENGTH :
			    FCGI_CODEC_OK));
		} else if (hdr.type == FCGI_PARAMS ||
		    hdr.type == FCGI_GET_VALUES) {
			walk_pairs(data + pos + FCGI_HEADER_LEN,
			    hdr.content_length, 0);
		}
		pos += total;
	}
}

/* The encoders, fed the input: their output must decode back to it. */
static void
check_encoders(const uint8_t *data, size_t size)
{
	uint8_t small[FCGI_CODEC_END_RECORD_LEN];
	struct fcgi_header hdr;
	uint16_t id = size >= 2 ? (uint16_t)(data[0] << 8 | data[1]) : 1;
	uint8_t type = size >= 3 ? data[2] : FCGI_STDOUT;
	size_t stream_len, written = 0, pos = 0, done = 0, half;
	uint8_t *out;

	fcgi_end_record_encode(small, id, size >= 7 ? (uint32_t)data[3] << 24 |
	    (uint32_t)data[4] << 16 | (uint32_t)data[5] << 8 | data[6] : 0,
	    type);
	FUZZ_CHECK(fcgi_header_decode(small, sizeof(small), &hdr) ==
	    FCGI_CODEC_OK);
	FUZZ_CHECK(hdr.type == FCGI_END_REQUEST && hdr.request_id == id &&
	    hdr.content_length == FCGI_CODEC_BODY_LEN &&
	    hdr.padding_length == 0 && small[12] == type);
	fcgi_unknown_type_record_encode(small, type);
	FUZZ_CHECK(fcgi_header_decode(small, sizeof(small), &hdr) ==
	    FCGI_CODEC_OK);
	FUZZ_CHECK(hdr.type == FCGI_UNKNOWN_TYPE && hdr.request_id == 0 &&
	    small[FCGI_HEADER_LEN] == type);

	if (size > FUZZ_CODEC_ENCODE_MAX)
		return;
	FUZZ_CHECK(fcgi_stream_size(size, &stream_len) == FCGI_CODEC_OK);
	FUZZ_CHECK(stream_len >= size && (size == 0) == (stream_len == 0));
	if ((out = malloc(stream_len + FCGI_HEADER_LEN + 1)) == NULL)
		return;
	if (stream_len > 0)
		FUZZ_CHECK(fcgi_stream_encode(type, id, data, size, out,
		    stream_len - 1, &written) == FCGI_CODEC_NO_SPACE);
	FUZZ_CHECK(fcgi_stream_encode(type, id, data, size, out, stream_len,
	    &written) == FCGI_CODEC_OK);
	FUZZ_CHECK(written == stream_len);
	/* Every record is full but the last, and they carry data in order. */
	while (pos < written) {
		FUZZ_CHECK(fcgi_header_decode(out + pos, written - pos, &hdr)
		    == FCGI_CODEC_OK);
		FUZZ_CHECK(hdr.type == type && hdr.request_id == id &&
		    hdr.padding_length == 0 && hdr.content_length > 0);
		FUZZ_CHECK(fcgi_header_record_len(&hdr) <= written - pos);
		FUZZ_CHECK(memcmp(out + pos + FCGI_HEADER_LEN, data + done,
		    hdr.content_length) == 0);
		done += hdr.content_length;
		pos += fcgi_header_record_len(&hdr);
		FUZZ_CHECK(pos == written ||
		    hdr.content_length == FCGI_MAX_LENGTH);
	}
	FUZZ_CHECK(done == size);
	fcgi_stream_end_encode(out, type, id);
	FUZZ_CHECK(fcgi_header_decode(out, FCGI_HEADER_LEN, &hdr) ==
	    FCGI_CODEC_OK && hdr.content_length == 0);

	if (size <= FCGI_MAX_LENGTH) {
		FUZZ_CHECK(fcgi_record_encode(type, id, data, size, out,
		    size + FCGI_HEADER_LEN - 1, &written) ==
		    FCGI_CODEC_NO_SPACE);
		FUZZ_CHECK(fcgi_record_encode(type, id, data, size, out,
		    size + FCGI_HEADER_LEN, &written) == FCGI_CODEC_OK);
		FUZZ_CHECK(written == size + FCGI_HEADER_LEN);
		FUZZ_CHECK(size == 0 || memcmp(out + FCGI_HEADER_LEN, data,
		    size) == 0);
	} else {
		FUZZ_CHECK(fcgi_record_encode(type, id, data, size, out,
		    stream_len, &written) == FCGI_CODEC_BAD_LENGTH);
	}
	free(out);

	/* The input split in two as one pair, then read back. */
	half = size / 2;
	{
		struct fcgi_nv nv = { data, half, data + half, size - half };

		check_nv_round_trip(&nv);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	walk_records(data, size);
	walk_pairs(data, size, 1);
	check_encoders(data, size);
	return 0;
}
