/* SPDX-License-Identifier: ISC */
/*
 * fcgi_codec.c - FastCGI 1.0 wire format: pure encoders and decoders.
 *
 * Turns bytes into headers, bodies and name-value pairs and back.  Multi-byte
 * fields are assembled from single bytes (no packed structs are cast over
 * buffers), lengths a peer sends are checked before use, and sums are checked
 * by subtraction in size_t.  It does not allocate, log or do I/O, and it does
 * not know which record may come when (fcgi_request.c does).
 */
#include "config.h"

#include "fcgi/fcgi_codec.h"

#include <string.h>

/* A name-value length of 128 or more takes the 4-byte form (spec 3.4). */
#define NV_SHORT_LEN_MAX	127
#define NV_LONG_FLAG		0x80

const char *
fcgi_codec_strerror(enum fcgi_codec_result result)
{
	switch (result) {
	case FCGI_CODEC_OK:
		return "ok";
	case FCGI_CODEC_DONE:
		return "no more pairs";
	case FCGI_CODEC_SHORT:
		return "need more bytes";
	case FCGI_CODEC_BAD_VERSION:
		return "unsupported FastCGI version";
	case FCGI_CODEC_TRUNCATED_LENGTH:
		return "truncated name-value length";
	case FCGI_CODEC_BAD_LENGTH:
		return "length out of range";
	case FCGI_CODEC_NO_SPACE:
		return "output buffer too small";
	}
	return "unknown codec result";
}

enum fcgi_codec_result
fcgi_header_decode(const uint8_t *buf, size_t len, struct fcgi_header *out)
{
	if (len < FCGI_HEADER_LEN)
		return FCGI_CODEC_SHORT;
	out->version = buf[0];
	out->type = buf[1];
	out->request_id = (uint16_t)((buf[2] << 8) | buf[3]);
	out->content_length = (uint16_t)((buf[4] << 8) | buf[5]);
	out->padding_length = buf[6];
	/* buf[7] is reserved. */
	if (out->version != FCGI_VERSION_1)
		return FCGI_CODEC_BAD_VERSION;
	return FCGI_CODEC_OK;
}

size_t
fcgi_header_record_len(const struct fcgi_header *hdr)
{
	return (size_t)FCGI_HEADER_LEN + hdr->content_length +
	    hdr->padding_length;
}

void
fcgi_header_encode(uint8_t out[FCGI_HEADER_LEN], uint8_t type,
    uint16_t request_id, uint16_t content_length)
{
	out[0] = FCGI_VERSION_1;
	out[1] = type;
	out[2] = (uint8_t)(request_id >> 8);
	out[3] = (uint8_t)request_id;
	out[4] = (uint8_t)(content_length >> 8);
	out[5] = (uint8_t)content_length;
	out[6] = 0;	/* paddingLength: we never pad, see fcgi_codec.h */
	out[7] = 0;
}

/*
 * Reads one pair length at buf[*pos] (len bytes in all) into *value.
 * Returns OK (and advances *pos) or TRUNCATED_LENGTH.
 */
static enum fcgi_codec_result
nv_length_decode(const uint8_t *buf, size_t len, size_t *pos, size_t *value)
{
	size_t left;

	if (*pos >= len)
		return FCGI_CODEC_TRUNCATED_LENGTH;
	left = len - *pos;
	if ((buf[*pos] & NV_LONG_FLAG) == 0) {
		*value = buf[*pos];
		*pos += 1;
		return FCGI_CODEC_OK;
	}
	if (left < 4)
		return FCGI_CODEC_TRUNCATED_LENGTH;
	*value = ((size_t)(buf[*pos] & 0x7f) << 24) |
	    ((size_t)buf[*pos + 1] << 16) | ((size_t)buf[*pos + 2] << 8) |
	    (size_t)buf[*pos + 3];
	*pos += 4;
	return FCGI_CODEC_OK;
}

enum fcgi_codec_result
fcgi_nv_next(const uint8_t *buf, size_t len, size_t *offset,
    struct fcgi_nv *out)
{
	enum fcgi_codec_result result;
	size_t pos = *offset, name_len, value_len, left;

	if (pos == len)
		return FCGI_CODEC_DONE;
	if (pos > len)
		return FCGI_CODEC_BAD_LENGTH;
	if ((result = nv_length_decode(buf, len, &pos, &name_len)) !=
	    FCGI_CODEC_OK)
		return result;
	if ((result = nv_length_decode(buf, len, &pos, &value_len)) !=
	    FCGI_CODEC_OK)
		return result;
	/* Checked by subtraction: name_len + value_len is never formed, so
	 * two lengths near 2^31 cannot wrap (libfcgi CVE-2025-23016). */
	left = len - pos;
	if (name_len > left)
		return FCGI_CODEC_BAD_LENGTH;
	left -= name_len;
	if (value_len > left)
		return FCGI_CODEC_BAD_LENGTH;
	out->name = buf + pos;
	out->name_len = name_len;
	out->value = buf + pos + name_len;
	out->value_len = value_len;
	*offset = pos + name_len + value_len;
	return FCGI_CODEC_OK;
}

/* Bytes the length field for len takes (spec 3.4). */
static size_t
nv_length_size(size_t len)
{
	return len <= NV_SHORT_LEN_MAX ? 1 : 4;
}

/* Writes the length field for len at out; returns the bytes written. */
static size_t
nv_length_encode(uint8_t *out, size_t len)
{
	if (len <= NV_SHORT_LEN_MAX) {
		out[0] = (uint8_t)len;
		return 1;
	}
	out[0] = (uint8_t)(NV_LONG_FLAG | ((len >> 24) & 0x7f));
	out[1] = (uint8_t)(len >> 16);
	out[2] = (uint8_t)(len >> 8);
	out[3] = (uint8_t)len;
	return 4;
}

enum fcgi_codec_result
fcgi_nv_encode(const uint8_t *name, size_t name_len, const uint8_t *value,
    size_t value_len, uint8_t *out, size_t out_size, size_t *written)
{
	size_t need, pos;

	if (name_len > FCGI_CODEC_NV_LEN_MAX ||
	    value_len > FCGI_CODEC_NV_LEN_MAX)
		return FCGI_CODEC_BAD_LENGTH;
	/* Subtract from out_size instead of summing the lengths. */
	need = nv_length_size(name_len) + nv_length_size(value_len);
	if (out_size < need || name_len > out_size - need ||
	    value_len > out_size - need - name_len)
		return FCGI_CODEC_NO_SPACE;
	pos = nv_length_encode(out, name_len);
	pos += nv_length_encode(out + pos, value_len);
	if (name_len > 0)
		memcpy(out + pos, name, name_len);
	pos += name_len;
	if (value_len > 0)
		memcpy(out + pos, value, value_len);
	*written = pos + value_len;
	return FCGI_CODEC_OK;
}

enum fcgi_codec_result
fcgi_begin_body_decode(const uint8_t *buf, size_t len,
    struct fcgi_begin_body *out)
{
	if (len < FCGI_CODEC_BODY_LEN)
		return FCGI_CODEC_BAD_LENGTH;
	out->role = (uint16_t)((buf[0] << 8) | buf[1]);
	out->flags = buf[2];
	return FCGI_CODEC_OK;
}

void
fcgi_end_body_encode(uint8_t out[FCGI_CODEC_BODY_LEN], uint32_t app_status,
    uint8_t protocol_status)
{
	out[0] = (uint8_t)(app_status >> 24);
	out[1] = (uint8_t)(app_status >> 16);
	out[2] = (uint8_t)(app_status >> 8);
	out[3] = (uint8_t)app_status;
	out[4] = protocol_status;
	out[5] = out[6] = out[7] = 0;
}

void
fcgi_end_record_encode(uint8_t out[FCGI_CODEC_END_RECORD_LEN],
    uint16_t request_id, uint32_t app_status, uint8_t protocol_status)
{
	fcgi_header_encode(out, FCGI_END_REQUEST, request_id,
	    FCGI_CODEC_BODY_LEN);
	fcgi_end_body_encode(out + FCGI_HEADER_LEN, app_status,
	    protocol_status);
}

void
fcgi_unknown_type_body_encode(uint8_t out[FCGI_CODEC_BODY_LEN], uint8_t type)
{
	memset(out, 0, FCGI_CODEC_BODY_LEN);
	out[0] = type;
}

void
fcgi_unknown_type_record_encode(uint8_t out[FCGI_CODEC_UNKNOWN_RECORD_LEN],
    uint8_t type)
{
	fcgi_header_encode(out, FCGI_UNKNOWN_TYPE, FCGI_NULL_REQUEST_ID,
	    FCGI_CODEC_BODY_LEN);
	fcgi_unknown_type_body_encode(out + FCGI_HEADER_LEN, type);
}

enum fcgi_codec_result
fcgi_record_encode(uint8_t type, uint16_t request_id, const uint8_t *data,
    size_t len, uint8_t *out, size_t out_size, size_t *written)
{
	if (len > FCGI_MAX_LENGTH)
		return FCGI_CODEC_BAD_LENGTH;
	if (out_size < FCGI_HEADER_LEN || len > out_size - FCGI_HEADER_LEN)
		return FCGI_CODEC_NO_SPACE;
	fcgi_header_encode(out, type, request_id, (uint16_t)len);
	if (len > 0)
		memcpy(out + FCGI_HEADER_LEN, data, len);
	*written = FCGI_HEADER_LEN + len;
	return FCGI_CODEC_OK;
}

enum fcgi_codec_result
fcgi_stream_size(size_t len, size_t *size)
{
	size_t records = len / FCGI_MAX_LENGTH + (len % FCGI_MAX_LENGTH != 0);

	/* records * 8 cannot overflow: records <= SIZE_MAX / 65535. */
	if (len > SIZE_MAX - records * FCGI_HEADER_LEN)
		return FCGI_CODEC_BAD_LENGTH;
	*size = len + records * FCGI_HEADER_LEN;
	return FCGI_CODEC_OK;
}

enum fcgi_codec_result
fcgi_stream_encode(uint8_t type, uint16_t request_id, const uint8_t *data,
    size_t len, uint8_t *out, size_t out_size, size_t *written)
{
	enum fcgi_codec_result result;
	size_t need, done = 0, pos = 0, chunk, used;

	if ((result = fcgi_stream_size(len, &need)) != FCGI_CODEC_OK)
		return result;
	if (out_size < need)
		return FCGI_CODEC_NO_SPACE;
	while (done < len) {
		chunk = len - done;
		if (chunk > FCGI_MAX_LENGTH)
			chunk = FCGI_MAX_LENGTH;
		/* Cannot fail: the space was checked above. */
		result = fcgi_record_encode(type, request_id, data + done,
		    chunk, out + pos, out_size - pos, &used);
		if (result != FCGI_CODEC_OK)
			return result;
		done += chunk;
		pos += used;
	}
	*written = pos;
	return FCGI_CODEC_OK;
}

void
fcgi_stream_end_encode(uint8_t out[FCGI_HEADER_LEN], uint8_t type,
    uint16_t request_id)
{
	fcgi_header_encode(out, type, request_id, 0);
}
