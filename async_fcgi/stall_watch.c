/* SPDX-License-Identifier: ISC */
/*
 * stall_watch.c - the blocked-loop detector (stall_watch.h).
 *
 * Three parties, each with its own rules:
 *   - the loop thread publishes a generation (odd while inside a callback)
 *     and a pointer to the request descriptor: plain atomic stores, no
 *     lock, no clock, no system call;
 *   - the signal handler runs on the loop thread when the watchdog asks;
 *     it copies the descriptor and unwinds the stack into preallocated
 *     memory, then sem_post()s: nothing else (doc/DESIGN-NOTES.md, "stall
 *     detector", has the async-signal-safety argument);
 *   - the watchdog thread samples, signals, symbolises (libdw), logs and
 *     keeps the records, the only place that allocates or locks.
 * It does not know libevent, FastCGI or the application.
 */
#include "config.h"

#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <elfutils/libdwfl.h>

#include <errno.h>
#include <stdarg.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "async_fcgi/stall_watch.h"
#include "common/clock.h"
#include "common/text.h"

#define STALL_WATCH_LINE_MAX	512	/* bytes of one log line */
#define STALL_WATCH_MISSING_MAX	4	/* modules named as missing symbols */

enum stall_capture_state {
	STALL_CAPTURE_IDLE,		/* the watchdog may arm it */
	STALL_CAPTURE_REQUESTED,	/* signal sent: the handler takes it */
	STALL_CAPTURE_WRITING,		/* the handler is filling it */
	STALL_CAPTURE_DONE		/* filled; the watchdog reads it */
};

/* What the handler fills: preallocated, written only between REQUESTED and
 * DONE by the handler, read only after DONE by the watchdog. */
struct stall_capture {
	atomic_int	 state;
	sem_t		 done;		/* posted once per DONE */
	uint64_t	 gen;		/* the generation the handler saw */
	int		 in_request;
	uint64_t	 request_no;
	char		 method[SA_STALL_FIELD_MAX];
	char		 uri[SA_STALL_URI_MAX];
	int		 uri_cut;
	char		 mode[SA_STALL_FIELD_MAX];
	char		 work[SA_STALL_FIELD_MAX];
	int		 unwound;	/* 0: unw_init_local2 failed */
	size_t		 nips;
	unw_word_t	 ips[SA_STALL_FRAMES];
};

struct stall_watch {
	/* Written by the loop thread, on a cache line of their own but for
	 * reporting, which the watchdog writes twice per reported block. */
	_Alignas(64) _Atomic uint64_t gen;
	const struct stall_watch_request *_Atomic current;
	atomic_int	 reporting;	/* a block is being reported: the */
	_Atomic int64_t	 left_at_us;	/* next leave dates its end here */

	_Alignas(64) pid_t pid;
	pid_t		 loop_tid;
	int64_t		 stall_us;
	int64_t		 repeat_max_us;
	int64_t		 tick_us;
	char		 prefix[64];
	void		(*log)(void *ctx, const char *line);
	void		*log_ctx;

	pthread_t	 thread;
	sem_t		 started;	/* the watchdog took its first sample */
	pthread_mutex_t	 stop_lock;
	pthread_cond_t	 stop_cond;
	int		 stop;

	struct stall_capture cap;

	/* The watchdog thread's own. */
	Dwfl		*dwfl;		/* for the block being reported */
	size_t		 shown_nips;	/* the stack printed last */
	unw_word_t	 shown_ips[SA_STALL_FRAMES];
	int		 named;		/* the block's request is known */
	char		 frame_text[SA_STALL_FRAMES][SA_STALL_FRAME_TEXT];
	const char	*missing[STALL_WATCH_MISSING_MAX];	/* modules */
	size_t		 nmissing;

	/* Shared with stall_watch_snapshot(), under stats_lock. */
	pthread_mutex_t	 stats_lock;
	struct stall_watch_report stats;
	uint64_t	 stats_gen;	/* the current block's generation */
	int64_t		 stats_since;	/* and its start, clock_mono_us */
};

/* The one detector the handler serves (the handler is process-wide). */
static struct stall_watch *_Atomic stall_watch_active;
static int stall_watch_installed;	/* the handler; stays installed */
/* The program's own file (its frames get file:line); set at start. */
static char stall_watch_exe[4096];
/* Set at start: DEBUGINFOD_URLS names a server to fetch debug files from. */
static int stall_watch_debuginfod;

/* --- the signal handler: async-signal-safe work only ---------------------- */

/* A bounded copy; returns 1 when src was longer than dst holds. */
static int
stall_watch_copy(char *dst, size_t size, const char *src)
{
	size_t i = 0;

	if (src != NULL)
		for (; i + 1 < size && src[i] != '\0'; i++)
			dst[i] = src[i];
	dst[i] = '\0';
	return src != NULL && src[i] != '\0';
}

static void
stall_watch_handler(int signo, siginfo_t *info, void *ucontext)
{
	int saved_errno = errno;
	struct stall_watch *watch = atomic_load(&stall_watch_active);
	struct stall_capture *cap;
	const struct stall_watch_request *req;
	int expected = STALL_CAPTURE_REQUESTED;
	unw_cursor_t cursor;

	/* Only the watchdog's tgkill from this process, only when armed. */
	if (watch == NULL || info->si_code != SI_TKILL ||
	    info->si_pid != watch->pid)
		goto out;
	cap = &watch->cap;
	if (!atomic_compare_exchange_strong(&cap->state, &expected,
	    STALL_CAPTURE_WRITING))
		goto out;

	/* Same thread as the stores in stall_watch_enter(): the release
	 * store of gen orders current before it, also for this handler. */
	cap->gen = atomic_load_explicit(&watch->gen, memory_order_relaxed);
	req = atomic_load_explicit(&watch->current, memory_order_relaxed);
	cap->in_request = (cap->gen & 1) != 0 && req != NULL;
	if (cap->in_request) {
		cap->request_no = req->number;
		stall_watch_copy(cap->method, sizeof(cap->method), req->method);
		cap->uri_cut = stall_watch_copy(cap->uri, sizeof(cap->uri),
		    req->uri);
		stall_watch_copy(cap->mode, sizeof(cap->mode), req->mode);
		stall_watch_copy(cap->work, sizeof(cap->work), req->work);
	}

	/* Unwind from the interrupted context, not through this handler:
	 * on x86_64 and aarch64 unw_context_t is the ucontext_t. */
	cap->nips = 0;
	cap->unwound = unw_init_local2(&cursor, (unw_context_t *)ucontext,
	    UNW_INIT_SIGNAL_FRAME) == 0;
	if (cap->unwound) {
		do {
			unw_word_t ip;

			if (unw_get_reg(&cursor, UNW_REG_IP, &ip) != 0 ||
			    ip == 0)
				break;
			cap->ips[cap->nips++] = ip;
		} while (cap->nips < SA_STALL_FRAMES &&
		    unw_step(&cursor) > 0);
	}

	atomic_store(&cap->state, STALL_CAPTURE_DONE);
	sem_post(&cap->done);
out:
	errno = saved_errno;
	(void)signo;
}

/* --- the loop thread's side ----------------------------------------------- */

void
stall_watch_enter(struct stall_watch *watch,
    const struct stall_watch_request *req)
{
	uint64_t gen;

	if (watch == NULL)
		return;
	gen = atomic_load_explicit(&watch->gen, memory_order_relaxed);
	atomic_store_explicit(&watch->current, req, memory_order_relaxed);
	atomic_store_explicit(&watch->gen, (gen + 1) | 1,
	    memory_order_release);
}

/* The leave that ends a block being reported: dated, once.  Out of line,
 * so that the common leave stays a load, a test and a store. */
static __attribute__((noinline, cold)) void
stall_watch_leave_dated(struct stall_watch *watch)
{
	uint64_t gen = atomic_load_explicit(&watch->gen, memory_order_relaxed);

	atomic_store_explicit(&watch->left_at_us, clock_mono_us(),
	    memory_order_relaxed);
	atomic_store_explicit(&watch->reporting, 0, memory_order_relaxed);
	atomic_store_explicit(&watch->gen, (gen + 1) & ~(uint64_t)1,
	    memory_order_release);
}

void
stall_watch_leave(struct stall_watch *watch)
{
	uint64_t gen;

	if (watch == NULL)
		return;
	/* Only the end of a block being reported is worth a clock read. */
	if (atomic_load_explicit(&watch->reporting, memory_order_relaxed)) {
		stall_watch_leave_dated(watch);
		return;
	}
	gen = atomic_load_explicit(&watch->gen, memory_order_relaxed);
	atomic_store_explicit(&watch->gen, (gen + 1) & ~(uint64_t)1,
	    memory_order_release);
}

/* --- the watchdog thread -------------------------------------------------- */

static void
stall_watch_log(struct stall_watch *watch, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
stall_watch_log(struct stall_watch *watch, const char *fmt, ...)
{
	char line[STALL_WATCH_LINE_MAX];
	size_t len = strlen(watch->prefix);
	va_list ap;

	memcpy(line, watch->prefix, len + 1);
	va_start(ap, fmt);
	vsnprintf(line + len, sizeof(line) - len, fmt, ap);
	va_end(ap);
	if (watch->log != NULL)
		watch->log(watch->log_ctx, line);
	else
		fprintf(stderr, "%s\n", line);
}

/* A field the peer chose, fit for a log line: non-printables as '.'
 * (text_sanitise), "..." at the end when the handler had to cut it. */
static void
stall_watch_field(char *out, size_t size, const char *raw, int cut)
{
	size_t len;

	text_sanitise(raw, strlen(raw), out, size);
	len = strlen(out);
	if (cut && size >= 4) {
		if (len > size - 4)
			len = size - 4;
		memcpy(out + len, "...", 4);
	}
}

/* Waits one tick or until stop; returns 1 on stop. */
static int
stall_watch_wait(struct stall_watch *watch, int64_t us)
{
	struct timespec until;
	int stop;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += (time_t)(us / 1000000);
	until.tv_nsec += (long)(us % 1000000) * 1000;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&watch->stop_lock);
	while (!watch->stop &&
	    pthread_cond_timedwait(&watch->stop_cond, &watch->stop_lock,
	    &until) == 0)
		continue;
	stop = watch->stop;
	pthread_mutex_unlock(&watch->stop_lock);
	return stop;
}

/*
 * Asks the loop thread for its stack and descriptor.  Returns 0 with the
 * capture DONE (the caller sets it IDLE after reading), -1 when the loop
 * thread did not answer within SA_STALL_ANSWER_MS (the capture is IDLE
 * again and a late signal is ignored).
 */
static int
stall_watch_capture(struct stall_watch *watch)
{
	struct stall_capture *cap = &watch->cap;
	struct timespec until;
	int expected = STALL_CAPTURE_REQUESTED;

	atomic_store(&cap->state, STALL_CAPTURE_REQUESTED);
	if (syscall(SYS_tgkill, watch->pid, watch->loop_tid,
	    STALL_WATCH_SIGNAL) == -1) {
		atomic_store(&cap->state, STALL_CAPTURE_IDLE);
		return -1;
	}
	clock_gettime(CLOCK_REALTIME, &until);	/* sem_timedwait's clock */
	until.tv_sec += (time_t)(SA_STALL_ANSWER_MS / 1000);
	until.tv_nsec += (long)(SA_STALL_ANSWER_MS % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	for (;;) {
		if (sem_timedwait(&cap->done, &until) == 0)
			return 0;
		if (errno == EINTR)
			continue;
		/* Too late: disarm, unless the handler has begun (then it
		 * finishes soon, without blocking: wait for its post). */
		if (atomic_compare_exchange_strong(&cap->state, &expected,
		    STALL_CAPTURE_IDLE))
			return -1;
		while (sem_wait(&cap->done) == -1 && errno == EINTR)
			continue;
		return 0;
	}
}

/* The last two components of a source path: "common/clock.c". */
static const char *
stall_watch_short_path(const char *path)
{
	const char *last = strrchr(path, '/');
	const char *p;

	if (last == NULL || last == path)
		return path;
	for (p = last - 1; p > path && *p != '/'; p--)
		continue;
	return *p == '/' ? p + 1 : p;
}

static const char *
stall_watch_base(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash != NULL ? slash + 1 : path;
}

/* One frame as text: "name (file:line)", "name (module)" or
 * "0xADDR (module+0xOFF)".  Sets *nosym when the frame has no name. */
static void
stall_watch_frame_text(struct stall_watch *watch, unw_word_t ip, int exact,
    char *out, size_t size, const char **module_out, int *nosym)
{
	Dwarf_Addr addr = exact ? ip : ip - 1;	/* a return address points
						   past the call */
	Dwfl_Module *mod = watch->dwfl != NULL ?
	    dwfl_addrmodule(watch->dwfl, addr) : NULL;
	const char *module = NULL, *name = NULL, *file = NULL, *path = NULL;
	Dwarf_Addr start = 0;
	int line = 0, namelen;

	*nosym = 0;
	*module_out = NULL;
	if (mod == NULL) {
		snprintf(out, size, "0x%lx (no module)", (unsigned long)ip);
		*nosym = 1;
		return;
	}
	module = dwfl_module_info(mod, NULL, &start, NULL, NULL, NULL, NULL,
	    NULL);
	module = module != NULL ? stall_watch_base(module) : "?";
	*module_out = module;
	name = dwfl_module_addrname(mod, addr);
	if (name == NULL) {
		snprintf(out, size, "0x%lx (%s+0x%lx)", (unsigned long)ip,
		    module, (unsigned long)(ip - start));
		*nosym = 1;
		return;
	}
	/* file:line for the program's own frames only: a library's line
	 * table (libc6-dbg's) takes 0.1 s to load here and seconds under
	 * valgrind, time in which the watchdog could not sample the loop,
	 * and it names no line a learner wrote. */
	if (strcmp(dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL,
	    &path, NULL) != NULL && path != NULL ? path : "",
	    stall_watch_exe) == 0) {
		Dwfl_Line *dl = dwfl_module_getsrc(mod, addr);

		if (dl != NULL)
			file = dwfl_lineinfo(dl, NULL, &line, NULL, NULL,
			    NULL);
	}
	namelen = strcspn(name, "@");	/* clock_nanosleep@GLIBC_2.2.5 */
	if (file != NULL && line > 0)
		snprintf(out, size, "%.*s (%s:%d)", namelen, name,
		    stall_watch_short_path(file), line);
	else
		snprintf(out, size, "%.*s (%s)", namelen, name, module);
}

/*
 * Separate debug files (a -dbgsym package, libc6-dbg) are looked up on
 * this machine only: with DEBUGINFOD_URLS set, libdw would fetch them over
 * the network, from the watchdog thread, while the loop is blocked.
 */
static int
stall_watch_find_debuginfo(Dwfl_Module *mod, void **userdata,
    const char *modname, Dwarf_Addr base, const char *file_name,
    const char *debuglink_file, GElf_Word debuglink_crc,
    char **debuginfo_file_name)
{
	if (stall_watch_debuginfod)
		return -1;
	return dwfl_standard_find_debuginfo(mod, userdata, modname, base,
	    file_name, debuglink_file, debuglink_crc, debuginfo_file_name);
}

/*
 * Reports the process's modules to the watchdog's Dwfl, opening it the
 * first time in a block; modules mapped since (dlopen) are added.
 * Returns 0, or -1 when libdw cannot read this process (frames are then
 * shown as bare addresses).
 */
static int
stall_watch_dwfl_refresh(struct stall_watch *watch)
{
	static char *debuginfo_path;
	static const Dwfl_Callbacks callbacks = {
		.find_elf = dwfl_linux_proc_find_elf,
		.find_debuginfo = stall_watch_find_debuginfo,
		.debuginfo_path = &debuginfo_path,
	};

	if (watch->dwfl == NULL) {
		if ((watch->dwfl = dwfl_begin(&callbacks)) == NULL)
			return -1;
		dwfl_report_begin(watch->dwfl);
	} else
		dwfl_report_begin_add(watch->dwfl);
	if (dwfl_linux_proc_report(watch->dwfl, watch->pid) != 0 ||
	    dwfl_report_end(watch->dwfl, NULL, NULL) != 0) {
		dwfl_end(watch->dwfl);
		watch->dwfl = NULL;
		return -1;
	}
	return 0;
}

/* Names the captured frames into watch->frame_text and keeps the top ones
 * in rec. */
static void
stall_watch_symbolise(struct stall_watch *watch,
    struct stall_watch_record *rec)
{
	const struct stall_capture *cap = &watch->cap;

	if (watch->shown_nips == 0)	/* the block's first stack */
		stall_watch_dwfl_refresh(watch);
	watch->nmissing = 0;
	rec->nframes = 0;
	for (size_t i = 0; i < cap->nips; i++) {
		char *text = watch->frame_text[i];
		const char *module;
		int nosym;

		stall_watch_frame_text(watch, cap->ips[i], i == 0, text,
		    SA_STALL_FRAME_TEXT, &module, &nosym);
		if (rec->nframes < SA_STALL_FRAMES_KEPT)
			memcpy(rec->frames[rec->nframes++], text,
			    SA_STALL_FRAME_TEXT);
		if (nosym && module != NULL) {
			size_t k;

			for (k = 0; k < watch->nmissing; k++)
				if (strcmp(watch->missing[k], module) == 0)
					break;
			if (k == watch->nmissing &&
			    watch->nmissing < STALL_WATCH_MISSING_MAX)
				watch->missing[watch->nmissing++] = module;
		}
	}
}

static void
stall_watch_log_stack(struct stall_watch *watch)
{
	const struct stall_capture *cap = &watch->cap;

	if (!cap->unwound || cap->nips == 0)
		stall_watch_log(watch, "  (the loop's stack could not be "
		    "unwound)");
	for (size_t i = 0; i < cap->nips; i++)
		stall_watch_log(watch, "  #%zu %s", i, watch->frame_text[i]);
	for (size_t k = 0; k < watch->nmissing; k++)
		stall_watch_log(watch, "  symbols are missing for %s (stripped:"
		    " build with -g and keep the symbols, or install its debug"
		    " symbols package)", watch->missing[k]);
}

static void
stall_watch_describe(const struct stall_watch_record *rec, char *out,
    size_t size)
{
	if (!rec->in_request)
		snprintf(out, size, "by a callback outside any request");
	else if (rec->request_no == 0 && rec->method[0] == '\0' &&
	    rec->uri[0] == '\0')
		snprintf(out, size, "by a request not numbered yet");
	else if (rec->request_no == 0)
		snprintf(out, size, "by a request not numbered yet (%s %s)",
		    rec->method[0] ? rec->method : "?",
		    rec->uri[0] ? rec->uri : "?");
	else
		snprintf(out, size,
		    "by request #%llu (%s %s, mode %s, work %s)",
		    (unsigned long long)rec->request_no,
		    rec->method[0] ? rec->method : "?",
		    rec->uri[0] ? rec->uri : "?",
		    rec->mode[0] ? rec->mode : "?",
		    rec->work[0] ? rec->work : "?");
}

/* Makes rec the current block in the stats (counted when first). */
static void
stall_watch_publish(struct stall_watch *watch,
    const struct stall_watch_record *rec, int first)
{
	pthread_mutex_lock(&watch->stats_lock);
	if (first)
		watch->stats.stalls++;
	watch->stats.has_current = 1;
	watch->stats.current = *rec;
	pthread_mutex_unlock(&watch->stats_lock);
}

/*
 * A live report for the block of generation gen, elapsed_us old.  Returns
 * 0, or -1 when the loop had already left that callback (no report).
 */
static int
stall_watch_report_live(struct stall_watch *watch, uint64_t gen,
    int64_t elapsed_us, int first, struct stall_watch_record *rec)
{
	struct stall_capture *cap = &watch->cap;
	char who[SA_STALL_URI_MAX + 3 * SA_STALL_FIELD_MAX + 64];
	int answered = stall_watch_capture(watch) == 0;
	int same;

	if (answered && cap->gen != gen) {
		atomic_store(&cap->state, STALL_CAPTURE_IDLE);
		return -1;
	}
	if (first) {
		memset(rec, 0, sizeof(*rec));
		rec->active = 1;
		rec->started_us = clock_now_us() - elapsed_us;
		watch->shown_nips = 0;
		watch->named = 0;
	}
	if (answered && !watch->named) {
		watch->named = 1;
		rec->in_request = cap->in_request;
		if (cap->in_request) {
			rec->request_no = cap->request_no;
			stall_watch_field(rec->method, sizeof(rec->method),
			    cap->method, 0);
			stall_watch_field(rec->uri, sizeof(rec->uri), cap->uri,
			    cap->uri_cut);
			stall_watch_field(rec->mode, sizeof(rec->mode),
			    cap->mode, 0);
			stall_watch_field(rec->work, sizeof(rec->work),
			    cap->work, 0);
		}
	}
	rec->duration_us = elapsed_us;
	if (!answered) {
		stall_watch_publish(watch, rec, first);
		stall_watch_log(watch, "the loop has been blocked for %lld ms"
		    " (the loop thread did not answer the stack request)",
		    (long long)(elapsed_us / 1000));
		return 0;
	}
	same = watch->shown_nips != 0 && cap->nips == watch->shown_nips &&
	    memcmp(cap->ips, watch->shown_ips,
	    cap->nips * sizeof(cap->ips[0])) == 0;
	/* The line first: naming a stack may take a while (libdw reads the
	 * symbol tables at a block's first one).  The stats have the frames
	 * before their lines. */
	stall_watch_publish(watch, rec, first);
	stall_watch_describe(rec, who, sizeof(who));
	stall_watch_log(watch, "the loop has been blocked for %lld ms %s%s",
	    (long long)(elapsed_us / 1000), who, same ? "; same stack" : "");
	if (!same) {
		stall_watch_symbolise(watch, rec);
		stall_watch_publish(watch, rec, 0);
		stall_watch_log_stack(watch);
		watch->shown_nips = cap->nips;
		memcpy(watch->shown_ips, cap->ips,
		    cap->nips * sizeof(cap->ips[0]));
	}
	atomic_store(&cap->state, STALL_CAPTURE_IDLE);
	return 0;
}

/* The block is over after total_us: move it to the recent list (first,
 * so that whoever reads the line finds it there), then log it. */
static void
stall_watch_report_end(struct stall_watch *watch,
    struct stall_watch_record *rec, int64_t total_us)
{
	struct stall_watch_report *stats = &watch->stats;

	rec->active = 0;
	rec->duration_us = total_us;
	pthread_mutex_lock(&watch->stats_lock);
	memmove(&stats->recent[1], &stats->recent[0],
	    (SA_STALL_RECENT - 1) * sizeof(stats->recent[0]));
	stats->recent[0] = *rec;
	if (stats->nrecent < SA_STALL_RECENT)
		stats->nrecent++;
	stats->has_current = 0;
	pthread_mutex_unlock(&watch->stats_lock);

	if (rec->in_request)
		stall_watch_log(watch, "the loop was blocked %lld ms by "
		    "request #%llu; it is running again",
		    (long long)(total_us / 1000),
		    (unsigned long long)rec->request_no);
	else
		stall_watch_log(watch, "the loop was blocked %lld ms; it is "
		    "running again", (long long)(total_us / 1000));
	/* Its files stay open only while a block is reported: the server
	 * counts its descriptors. */
	if (watch->dwfl != NULL) {
		dwfl_end(watch->dwfl);
		watch->dwfl = NULL;
	}
}

static void *
stall_watch_main(void *arg)
{
	struct stall_watch *watch = arg;
	struct stall_watch_record *rec = calloc(1, sizeof(*rec));
	uint64_t seen_gen;
	int64_t seen_at;		/* when seen_gen began */
	int64_t sampled_at;		/* the previous sample */
	int64_t next_us = watch->stall_us;
	int reporting = 0;

	seen_gen = atomic_load_explicit(&watch->gen, memory_order_acquire);
	seen_at = sampled_at = clock_mono_us();
	sem_post(&watch->started);

	if (rec == NULL) {
		stall_watch_log(watch, "out of memory: the detector is off");
		return NULL;
	}
	while (!stall_watch_wait(watch, watch->tick_us)) {
		uint64_t gen = atomic_load_explicit(&watch->gen,
		    memory_order_acquire);
		int64_t now = clock_mono_us();

		if (gen != seen_gen) {
			/* It changed between two samples: take the middle,
			 * off by half a tick (or half a late wake-up). */
			int64_t changed_at = sampled_at +
			    (now - sampled_at) / 2;

			if (reporting) {
				/* The loop dated its return, unless it
				 * left before it saw reporting set. */
				int64_t left_at = atomic_load_explicit(
				    &watch->left_at_us, memory_order_relaxed);

				if (left_at > seen_at && left_at <= now)
					changed_at = left_at;
				stall_watch_report_end(watch, rec,
				    changed_at - seen_at);
			}
			reporting = 0;
			seen_gen = gen;
			seen_at = changed_at;
			sampled_at = now;
			next_us = watch->stall_us;
			continue;
		}
		sampled_at = now;
		if ((gen & 1) == 0 || now - seen_at < next_us)
			continue;
		if (!reporting) {
			atomic_store(&watch->left_at_us, 0);
			atomic_store(&watch->reporting, 1);
			pthread_mutex_lock(&watch->stats_lock);
			watch->stats_gen = gen;
			watch->stats_since = seen_at;
			pthread_mutex_unlock(&watch->stats_lock);
		}
		if (stall_watch_report_live(watch, gen, now - seen_at,
		    !reporting, rec) == 0) {
			reporting = 1;
			/* The next point of 1, 2, 4 ... stall_ms past now,
			 * also when this report came late. */
			while (next_us <= now - seen_at)
				next_us += next_us < watch->repeat_max_us ?
				    next_us : watch->repeat_max_us;
		}
	}
	if (reporting)
		stall_watch_report_end(watch, rec, clock_mono_us() - seen_at);
	free(rec);
	return NULL;
}

/* --- start, stop, snapshot ------------------------------------------------ */

/* Runs libunwind once on this thread, so that its one-time set-up (locks,
 * the memory-validation pipe) is done before any signal needs it. */
static void
stall_watch_warm_up(void)
{
	unw_context_t context;
	unw_cursor_t cursor;

	unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
	if (unw_getcontext(&context) == 0 &&
	    unw_init_local(&cursor, &context) == 0)
		while (unw_step(&cursor) > 0)
			continue;
}

static int
stall_watch_install(char *err, size_t errlen)
{
	struct sigaction sa, old;

	if (stall_watch_installed)
		return 0;
	if (sigaction(STALL_WATCH_SIGNAL, NULL, &old) == -1) {
		snprintf(err, errlen, "stall detector: sigaction: %s",
		    strerror(errno));
		return -1;
	}
	if ((old.sa_flags & SA_SIGINFO) != 0 || old.sa_handler != SIG_DFL) {
		snprintf(err, errlen, "stall detector: signal SIGRTMIN+%d is"
		    " already in use", STALL_WATCH_SIGNAL - SIGRTMIN);
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = stall_watch_handler;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigfillset(&sa.sa_mask);
	if (sigaction(STALL_WATCH_SIGNAL, &sa, NULL) == -1) {
		snprintf(err, errlen, "stall detector: sigaction: %s",
		    strerror(errno));
		return -1;
	}
	stall_watch_installed = 1;
	return 0;
}

static void
stall_watch_free(struct stall_watch *watch)
{
	if (watch->dwfl != NULL)
		dwfl_end(watch->dwfl);
	sem_destroy(&watch->started);
	sem_destroy(&watch->cap.done);
	pthread_cond_destroy(&watch->stop_cond);
	pthread_mutex_destroy(&watch->stats_lock);
	pthread_mutex_destroy(&watch->stop_lock);
	free(watch);
}

struct stall_watch *
stall_watch_start(const struct stall_watch_config *cfg, char *err,
    size_t errlen)
{
	struct stall_watch *watch;
	struct stall_watch *none = NULL;
	pthread_condattr_t cattr;
	sigset_t set, old;
	unsigned long stall_ms = cfg->stall_ms ? cfg->stall_ms :
	    SA_WATCHDOG_STALL_MS;
	unsigned long repeat_ms = cfg->repeat_max_ms ? cfg->repeat_max_ms :
	    SA_STALL_REPEAT_MAX_MS;
	int rc;

	if (stall_ms > SA_STALL_MS_MAX || repeat_ms > SA_STALL_MS_MAX) {
		snprintf(err, errlen, "stall detector: a threshold of %lu ms"
		    " is past the limit of %lu ms", stall_ms > repeat_ms ?
		    stall_ms : repeat_ms, SA_STALL_MS_MAX);
		return NULL;
	}
	watch = calloc(1, sizeof(*watch));
	if (watch == NULL) {
		snprintf(err, errlen, "stall detector: out of memory");
		return NULL;
	}
	watch->pid = getpid();
	watch->loop_tid = (pid_t)syscall(SYS_gettid);
	watch->stall_us = (int64_t)stall_ms * 1000;
	watch->repeat_max_us = (int64_t)repeat_ms * 1000;
	watch->tick_us = watch->stall_us / 10;
	if (watch->tick_us < 1000)
		watch->tick_us = 1000;
	if (watch->tick_us > 10000)
		watch->tick_us = 10000;
	snprintf(watch->prefix, sizeof(watch->prefix), "%s",
	    cfg->prefix != NULL ? cfg->prefix : "stall: ");
	watch->log = cfg->log;
	watch->log_ctx = cfg->log_ctx;
	atomic_init(&watch->cap.state, STALL_CAPTURE_IDLE);
	pthread_mutex_init(&watch->stop_lock, NULL);
	pthread_mutex_init(&watch->stats_lock, NULL);
	pthread_condattr_init(&cattr);
	pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
	pthread_cond_init(&watch->stop_cond, &cattr);
	pthread_condattr_destroy(&cattr);
	sem_init(&watch->cap.done, 0, 0);
	sem_init(&watch->started, 0, 0);

	if (!atomic_compare_exchange_strong(&stall_watch_active, &none,
	    watch)) {
		snprintf(err, errlen, "stall detector: one already runs");
		goto fail;
	}
	stall_watch_warm_up();
	{
		ssize_t n = readlink("/proc/self/exe", stall_watch_exe,
		    sizeof(stall_watch_exe) - 1);

		const char *urls = getenv("DEBUGINFOD_URLS");

		stall_watch_exe[n > 0 ? n : 0] = '\0';
		stall_watch_debuginfod = urls != NULL && urls[0] != '\0';
	}
	if (stall_watch_install(err, errlen) == -1) {
		atomic_store(&stall_watch_active, NULL);
		goto fail;
	}
	sigemptyset(&set);
	sigaddset(&set, STALL_WATCH_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);

	/* The watchdog takes no asynchronous signal: they are the loop's. */
	sigfillset(&set);
	pthread_sigmask(SIG_SETMASK, &set, &old);
	rc = pthread_create(&watch->thread, NULL, stall_watch_main, watch);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		snprintf(err, errlen, "stall detector: pthread_create: %s",
		    strerror(rc));
		atomic_store(&stall_watch_active, NULL);
		goto fail;
	}
	/* A block that starts right after this is timed from its start. */
	while (sem_wait(&watch->started) == -1 && errno == EINTR)
		continue;
	return watch;
fail:
	stall_watch_free(watch);
	return NULL;
}

void
stall_watch_stop(struct stall_watch *watch)
{
	if (watch == NULL)
		return;
	pthread_mutex_lock(&watch->stop_lock);
	watch->stop = 1;
	pthread_cond_signal(&watch->stop_cond);
	pthread_mutex_unlock(&watch->stop_lock);
	pthread_join(watch->thread, NULL);
	/* This is the loop thread: no handler of ours runs now, and one
	 * still pending finds no detector (or a disarmed capture). */
	atomic_store(&stall_watch_active, NULL);
	stall_watch_free(watch);
}

void
stall_watch_snapshot(struct stall_watch *watch,
    struct stall_watch_report *out)
{
	memset(out, 0, sizeof(*out));
	if (watch == NULL)
		return;
	int64_t since, left_at;
	int left;

	/* Everything read under the lock: the watchdog's next lock orders
	 * these reads before a stop frees the detector. */
	pthread_mutex_lock(&watch->stats_lock);
	*out = watch->stats;
	since = watch->stats_since;
	left = atomic_load_explicit(&watch->gen, memory_order_acquire) !=
	    watch->stats_gen;
	left_at = atomic_load_explicit(&watch->left_at_us,
	    memory_order_relaxed);
	pthread_mutex_unlock(&watch->stats_lock);
	if (!out->has_current)
		return;
	/* The loop may have left the block before the watchdog's next sample
	 * (a stats request the loop serves right after it): then it is over,
	 * dated by the loop's leave as the watchdog will date it. */
	if (left) {
		out->current.active = 0;
		out->current.duration_us = (left_at > since ? left_at :
		    clock_mono_us()) - since;
		memmove(&out->recent[1], &out->recent[0],
		    (SA_STALL_RECENT - 1) * sizeof(out->recent[0]));
		out->recent[0] = out->current;
		if (out->nrecent < SA_STALL_RECENT)
			out->nrecent++;
		out->has_current = 0;
		memset(&out->current, 0, sizeof(out->current));
		return;
	}
	/* A block still going on lasts until now, not the last report. */
	if (clock_mono_us() - since > out->current.duration_us)
		out->current.duration_us = clock_mono_us() - since;
}
