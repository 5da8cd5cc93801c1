/* SPDX-License-Identifier: ISC */
/*
 * fcgi_codec.h - FastCGI 1.0 wire format: pure encoders and decoders.
 *
 * Every function here works on caller-supplied bytes (a pointer and a length)
 * and caller-supplied output space.  Nothing allocates, does I/O, logs or
 * keeps state between calls; this is the layer the unit tests and the fuzzer
 * drive.  It knows the record layouts, not the protocol's rules about which
 * record may come when: that is fcgi_request.c.  Constants and type codes are
 * libfcgi's <fastcgi.h>; nothing here redefines them.
 *
 * Spec: "FastCGI Specification", Mark R. Brown, Open Market, version 1.0,
 * 29 April 1996 ("spec 3.3" below means its section 3.3).
 *
 * Padding: encoders here never pad (paddingLength is always 0).  Spec 3.3
 * only recommends 8-byte alignment, every receiver must honour any
 * paddingLength, and unpadded records make the encoded size exact and simple:
 * FCGI_HEADER_LEN plus the content.  Decoders accept any padding.
 *
 * Errors: every fallible function returns an enum fcgi_codec_result.
 */
#ifndef SYNCASYNC_FCGI_FCGI_CODEC_H
#define SYNCASYNC_FCGI_FCGI_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include <fastcgi.h>

/* Sizes of the fixed-size records the encoders below produce, in bytes. */
#define FCGI_CODEC_BODY_LEN	8	/* BEGIN, END and UNKNOWN_TYPE bodies */
#define FCGI_CODEC_END_RECORD_LEN (FCGI_HEADER_LEN + FCGI_CODEC_BODY_LEN)
#define FCGI_CODEC_UNKNOWN_RECORD_LEN (FCGI_HEADER_LEN + FCGI_CODEC_BODY_LEN)
/* Largest length a name-value pair may declare (31 bits, spec 3.4). */
#define FCGI_CODEC_NV_LEN_MAX	0x7fffffffUL

enum fcgi_codec_result {
	FCGI_CODEC_OK = 0,		/* done; outputs are filled in */
	FCGI_CODEC_DONE,		/* pair iteration: no more pairs */
	FCGI_CODEC_SHORT,		/* need more bytes (header decode) */
	FCGI_CODEC_BAD_VERSION,		/* header version is not FCGI_VERSION_1 */
	FCGI_CODEC_TRUNCATED_LENGTH,	/* a pair's length field is cut off */
	FCGI_CODEC_BAD_LENGTH,		/* a length is out of range or runs
					   past the data */
	FCGI_CODEC_NO_SPACE		/* output buffer too small; nothing
					   was written */
};

/* A decoded record header (spec 3.3), multi-byte fields in host order. */
struct fcgi_header {
	uint8_t		version;
	uint8_t		type;
	uint16_t	request_id;
	uint16_t	content_length;
	uint8_t		padding_length;
};

/* A decoded FCGI_BEGIN_REQUEST body (spec 5.1). */
struct fcgi_begin_body {
	uint16_t	role;		/* FCGI_RESPONDER, ... */
	uint8_t		flags;		/* FCGI_KEEP_CONN, ... */
};

/*
 * One name-value pair (spec 3.4).  name and value point into the buffer that
 * was iterated; they are NOT NUL-terminated and may contain any byte.
 */
struct fcgi_nv {
	const uint8_t	*name;
	size_t		 name_len;
	const uint8_t	*value;
	size_t		 value_len;
};

/* A short static description of result, for log lines.  Never NULL. */
const char *fcgi_codec_strerror(enum fcgi_codec_result result);

/*
 * Decodes the first FCGI_HEADER_LEN bytes of buf into *out (spec 3.3).
 * Returns:
 *   FCGI_CODEC_OK           *out filled in.
 *   FCGI_CODEC_SHORT        len < FCGI_HEADER_LEN; *out untouched.
 *   FCGI_CODEC_BAD_VERSION  *out filled in (for logging), but the version
 *                           byte is not FCGI_VERSION_1: the stream cannot be
 *                           framed, the connection must close.
 * Type, request id and lengths are not judged here: every 16-bit length is
 * representable and the request layer decides what a type means.
 */
enum fcgi_codec_result fcgi_header_decode(const uint8_t *buf, size_t len,
    struct fcgi_header *out);

/*
 * Bytes the whole record described by hdr occupies on the wire: the header,
 * the content and the padding (at most 8 + 65535 + 255).  A caller framing
 * records waits until this many bytes are buffered.
 */
size_t fcgi_header_record_len(const struct fcgi_header *hdr);

/*
 * Writes a FCGI_VERSION_1 record header with paddingLength 0 (spec 3.3) to
 * out.  Cannot fail: every argument value is representable.
 */
void fcgi_header_encode(uint8_t out[FCGI_HEADER_LEN], uint8_t type,
    uint16_t request_id, uint16_t content_length);

/*
 * Iterates the name-value pairs of a complete buffer (spec 3.4): a PARAMS
 * stream after reassembly, or a GET_VALUES body.  *offset starts at 0; each
 * OK call fills *out and advances *offset past the pair.  Lengths are 1 byte
 * (high bit clear, 0..127) or 4 bytes (high bit set, 31 bits); all
 * arithmetic is in size_t and checked by subtraction, so two lengths near
 * 2^31 whose sum would wrap a 32-bit counter are rejected, never wrapped.
 * Returns:
 *   FCGI_CODEC_OK                a pair is in *out, *offset advanced.
 *   FCGI_CODEC_DONE              *offset == len: no more pairs.
 *   FCGI_CODEC_TRUNCATED_LENGTH  a 4-byte length field (or the value's
 *                                length field) is cut off by the end of buf.
 *   FCGI_CODEC_BAD_LENGTH        the declared name or value runs past the
 *                                end of buf, or *offset > len.
 * On an error *offset and *out are left unchanged.
 */
enum fcgi_codec_result fcgi_nv_next(const uint8_t *buf, size_t len,
    size_t *offset, struct fcgi_nv *out);

/*
 * Encodes one name-value pair (spec 3.4) into out, choosing the 1-byte length
 * form for lengths below 128 and the 4-byte form otherwise; *written gets the
 * bytes used.  Returns:
 *   FCGI_CODEC_OK          encoded.
 *   FCGI_CODEC_BAD_LENGTH  a length exceeds FCGI_CODEC_NV_LEN_MAX.
 *   FCGI_CODEC_NO_SPACE    out_size too small; nothing written.
 */
enum fcgi_codec_result fcgi_nv_encode(const uint8_t *name, size_t name_len,
    const uint8_t *value, size_t value_len, uint8_t *out, size_t out_size,
    size_t *written);

/*
 * Decodes a FCGI_BEGIN_REQUEST body (spec 5.1).  len is the record's
 * contentLength.  Returns:
 *   FCGI_CODEC_OK          *out filled in; bytes past the 8th (reserved in
 *                          1.0) are ignored.
 *   FCGI_CODEC_BAD_LENGTH  len < 8; *out untouched.
 */
enum fcgi_codec_result fcgi_begin_body_decode(const uint8_t *buf, size_t len,
    struct fcgi_begin_body *out);

/* Writes a FCGI_END_REQUEST body (spec 5.5): appStatus big-endian, then
 * protocolStatus, then 3 reserved zero bytes. */
void fcgi_end_body_encode(uint8_t out[FCGI_CODEC_BODY_LEN],
    uint32_t app_status, uint8_t protocol_status);

/* Writes a whole FCGI_END_REQUEST record (header + body, spec 5.5). */
void fcgi_end_record_encode(uint8_t out[FCGI_CODEC_END_RECORD_LEN],
    uint16_t request_id, uint32_t app_status, uint8_t protocol_status);

/* Writes a FCGI_UNKNOWN_TYPE body (spec 4.2): the type, 7 zero bytes. */
void fcgi_unknown_type_body_encode(uint8_t out[FCGI_CODEC_BODY_LEN],
    uint8_t type);

/* Writes a whole FCGI_UNKNOWN_TYPE record, request id 0 (spec 4.2). */
void fcgi_unknown_type_record_encode(
    uint8_t out[FCGI_CODEC_UNKNOWN_RECORD_LEN], uint8_t type);

/*
 * Writes one record carrying len content bytes (len <= FCGI_MAX_LENGTH) to
 * out; *written gets FCGI_HEADER_LEN + len.  len == 0 writes the empty
 * record that terminates a stream (spec 3.3).  Returns:
 *   FCGI_CODEC_OK          written.
 *   FCGI_CODEC_BAD_LENGTH  len > FCGI_MAX_LENGTH (65535).
 *   FCGI_CODEC_NO_SPACE    out_size too small; nothing written.
 */
enum fcgi_codec_result fcgi_record_encode(uint8_t type, uint16_t request_id,
    const uint8_t *data, size_t len, uint8_t *out, size_t out_size,
    size_t *written);

/*
 * Exact bytes fcgi_stream_encode() writes for len data bytes: one
 * FCGI_HEADER_LEN header per started 65535-byte chunk plus the data; 0 for
 * len == 0.  The terminator is not included (add FCGI_HEADER_LEN for it).
 * Returns FCGI_CODEC_OK, or FCGI_CODEC_BAD_LENGTH if the size does not fit
 * in a size_t (*size untouched).
 */
enum fcgi_codec_result fcgi_stream_size(size_t len, size_t *size);

/*
 * Writes len bytes of a stream (FCGI_STDOUT, FCGI_STDERR, ...) as records of
 * at most FCGI_MAX_LENGTH (65535) content bytes each (spec 3.3, 5.3); every
 * record but the last is full.  len == 0 writes nothing: an empty record
 * would end the stream, which is fcgi_stream_end_encode()'s job.  Can be
 * called once per chunk as data becomes available.  Returns:
 *   FCGI_CODEC_OK          *written = fcgi_stream_size(len).
 *   FCGI_CODEC_NO_SPACE    out_size too small; nothing written.
 *   FCGI_CODEC_BAD_LENGTH  the encoded size overflows size_t.
 */
enum fcgi_codec_result fcgi_stream_encode(uint8_t type, uint16_t request_id,
    const uint8_t *data, size_t len, uint8_t *out, size_t out_size,
    size_t *written);

/* Writes the empty record that ends a stream (spec 3.3): a header with
 * contentLength 0. */
void fcgi_stream_end_encode(uint8_t out[FCGI_HEADER_LEN], uint8_t type,
    uint16_t request_id);

#endif
