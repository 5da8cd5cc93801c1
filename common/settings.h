/*
 * settings.h - the SYNCASYNC_* configuration, read from the environment.
 *
 * Both programs read the same variables (DESIGN.md, "Configuration"); the
 * defaults reproduce the published experiment.  A bad value is reported with
 * the variable's name, never replaced by a default.  async_fcgi applies its
 * command-line options on top of what settings_load() returns.
 */
#ifndef SYNCASYNC_COMMON_SETTINGS_H
#define SYNCASYNC_COMMON_SETTINGS_H

#include <stddef.h>
#include <stdint.h>

enum settings_mode {
	MODE_BLOCK = 0,		/* sleep() on the loop thread: the mistake */
	MODE_TIMER,		/* a loop timer: asyncio.sleep */
	MODE_OFFLOAD,		/* a bounded thread pool: run_in_threadpool */
};

struct settings {
	uint64_t	sleep_us;	/* SYNCASYNC_SLEEP_SECONDS */
	uint64_t	sleep_on;	/* SYNCASYNC_SLEEP_ON; 0 = none */
	int		sleep_all;	/* SYNCASYNC_SLEEP_ON=all (benchmarks) */
	enum settings_mode mode;	/* SYNCASYNC_ASYNC_MODE */
	uint64_t	pool_threads;	/* SYNCASYNC_POOL_THREADS */
	const char     *state_dir;	/* SYNCASYNC_STATE_DIR */
	int		query_overrides; /* SYNCASYNC_QUERY_OVERRIDES */
};

#define SETTINGS_ERROR_MAX 256

/*
 * Fills *s from the environment, starting from the defaults; state_dir
 * defaults to default_state_dir.  Returns 0, or -1 with a message naming the
 * variable and the bad value (sanitised) in err.
 */
int settings_load(struct settings *s, const char *default_state_dir,
    char *err, size_t errlen);

/* Parses a mode name ("block", "timer" or its alias "async", "offload"). */
int settings_parse_mode(const char *text, enum settings_mode *mode);

/* The contract's name of a mode: "block", "timer", "offload". */
const char *settings_mode_name(enum settings_mode mode);

/*
 * Copies text into out (size outlen) for a log line or an error message:
 * non-printable bytes become '.', and an ellipsis marks truncation.
 */
void settings_sanitise(const char *text, char *out, size_t outlen);

#endif
