/* SPDX-License-Identifier: ISC */
/*
 * loop_mem.c - per-thread free lists for libevent's blocks (loop_mem.h).
 *
 * A kept block's class is read back from malloc_usable_size() when it is
 * freed, so no header is added: a block of class c was allocated with
 * 2^c bytes (malloc may give a little more, never less), and is given out
 * again for any request of at most 2^c bytes.
 */
#include "config.h"

#include <malloc.h>
#include <stddef.h>
#include <stdlib.h>

#include <event2/event.h>

#include "async_fcgi/loop_mem.h"

#if defined(__SANITIZE_ADDRESS__)
#define LOOP_MEM_OFF 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LOOP_MEM_OFF 1
#endif
#endif

#define LOOP_MEM_MIN_CLASS	10	/* 1024 bytes: an evbuffer chain's least */
#define LOOP_MEM_MAX_CLASS	14	/* 16384 == LOOP_MEM_MAX_BLOCK */
#define LOOP_MEM_CLASSES	(LOOP_MEM_MAX_CLASS - LOOP_MEM_MIN_CLASS + 1)

/* A kept block's first bytes link it to the next. */
struct mem_block {
	struct mem_block	*next;
};

struct mem_class {
	struct mem_block	*head;
	unsigned		 count;
};

static __thread struct mem_class mem_classes[LOOP_MEM_CLASSES];

/* The smallest class whose blocks hold n bytes; -1 if none does, or n is
 * below the smallest class (those stay exact: no rounding up of libevent's
 * structures, which a waiting connection holds). */
static int
class_for_size(size_t n)
{
	int c = LOOP_MEM_MIN_CLASS;

	if (n < ((size_t)1 << LOOP_MEM_MIN_CLASS))
		return -1;
	while (c <= LOOP_MEM_MAX_CLASS && ((size_t)1 << c) < n)
		c++;
	return c <= LOOP_MEM_MAX_CLASS ? c : -1;
}

/* The largest class a block of usable bytes can serve; -1 if none, or if
 * keeping it would waste half of it or more. */
static int
class_of_block(size_t usable)
{
	int c = LOOP_MEM_MAX_CLASS;

	if (usable >= ((size_t)2 << LOOP_MEM_MAX_CLASS))
		return -1;
	while (c >= LOOP_MEM_MIN_CLASS && ((size_t)1 << c) > usable)
		c--;
	return c >= LOOP_MEM_MIN_CLASS ? c : -1;
}

static void *
mem_malloc(size_t n)
{
	int c = class_for_size(n);
	struct mem_class *mc;
	struct mem_block *b;

	if (c == -1)
		return malloc(n);
	mc = &mem_classes[c - LOOP_MEM_MIN_CLASS];
	if ((b = mc->head) != NULL) {
		mc->head = b->next;
		mc->count--;
		return b;
	}
	return malloc((size_t)1 << c);
}

static void
mem_free(void *p)
{
	int c;
	struct mem_class *mc;
	struct mem_block *b = p;

	if (p == NULL)
		return;
	c = class_of_block(malloc_usable_size(p));
	if (c == -1 || (mc = &mem_classes[c - LOOP_MEM_MIN_CLASS])->count >=
	    LOOP_MEM_PER_CLASS) {
		free(p);
		return;
	}
	b->next = mc->head;
	mc->head = b;
	mc->count++;
}

static void *
mem_realloc(void *p, size_t n)
{
	void *q;

	if (p == NULL)
		return mem_malloc(n);
	if (n == 0) {
		mem_free(p);
		return NULL;
	}
	/* A block of any size is a malloc block: realloc moves it. */
	if ((q = realloc(p, n)) == NULL)
		return NULL;
	return q;
}

void
loop_mem_install(void)
{
#ifndef LOOP_MEM_OFF
	event_set_mem_functions(mem_malloc, mem_realloc, mem_free);
#else
	(void)mem_malloc;
	(void)mem_realloc;
	(void)mem_free;
#endif
}

void
loop_mem_release(void)
{
	int i;

	for (i = 0; i < LOOP_MEM_CLASSES; i++) {
		struct mem_class *mc = &mem_classes[i];

		while (mc->head != NULL) {
			struct mem_block *b = mc->head;

			mc->head = b->next;
			free(b);
		}
		mc->count = 0;
	}
}
