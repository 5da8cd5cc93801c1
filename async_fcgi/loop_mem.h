/* SPDX-License-Identifier: ISC */
/*
 * loop_mem.h - libevent's allocations through a few per-thread free lists.
 *
 * libevent allocates an evbuffer chain for every read into an empty input
 * buffer and frees it when the buffer is drained: one malloc and free per
 * request.  Installed (event_set_mem_functions) before any other libevent
 * call, this keeps freed blocks of 1 KiB to LOOP_MEM_MAX_BLOCK bytes, in
 * power-of-two size classes of at most LOOP_MEM_PER_CLASS blocks each, and
 * hands them out again, so a steady stream of requests calls malloc for
 * none.  Such a block is rounded up to its class (less than twice what was
 * asked); smaller ones (libevent's structures) are left exact.
 * Under AddressSanitizer it installs nothing, so a use after free in
 * libevent's memory is still caught.
 */
#ifndef SYNCASYNC_ASYNC_FCGI_LOOP_MEM_H
#define SYNCASYNC_ASYNC_FCGI_LOOP_MEM_H

#define LOOP_MEM_MAX_BLOCK	16384	/* bytes: larger ones are not kept */
#define LOOP_MEM_PER_CLASS	64	/* blocks kept per size class */

/* Routes libevent's allocations here; call first, before any libevent
 * call. */
void loop_mem_install(void);

/* Frees the calling thread's kept blocks (at exit, for leak checkers). */
void loop_mem_release(void);

#endif
