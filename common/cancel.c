/* SPDX-License-Identifier: ISC */
/*
 * cancel.c - the cancel token (cancel.h).
 *
 * One mutex guards the hook and orders the wake-ups: cancel_request() sets
 * the flag and broadcasts under it, a sleeper checks the flag under it
 * before every wait, so a request is never missed between check and wait.
 * The hook runs under the same mutex, which is what makes
 * cancel_hook_clear() a barrier: it cannot return while the hook runs.  The
 * flag is also an atomic so that cancel_requested() is a plain load.
 */
#include "config.h"

#include "common/cancel.h"

#include <errno.h>
#include <stdint.h>
#include <time.h>

#include "common/clock.h"

int
cancel_init(struct cancel_token *token)
{
	pthread_condattr_t attr;
	int rc;

	if ((rc = pthread_mutex_init(&token->lock, NULL)) != 0)
		goto fail;
	if ((rc = pthread_condattr_init(&attr)) != 0)
		goto fail_mutex;
	if ((rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)) == 0)
		rc = pthread_cond_init(&token->wake, &attr);
	pthread_condattr_destroy(&attr);
	if (rc != 0)
		goto fail_mutex;
	atomic_init(&token->requested, 0);
	token->hook = NULL;
	token->hook_arg = NULL;
	return 0;

fail_mutex:
	pthread_mutex_destroy(&token->lock);
fail:
	errno = rc;
	return -1;
}

void
cancel_destroy(struct cancel_token *token)
{
	pthread_cond_destroy(&token->wake);
	pthread_mutex_destroy(&token->lock);
}

void
cancel_reset(struct cancel_token *token)
{
	pthread_mutex_lock(&token->lock);
	atomic_store(&token->requested, 0);
	token->hook = NULL;
	token->hook_arg = NULL;
	pthread_mutex_unlock(&token->lock);
}

void
cancel_request(struct cancel_token *token)
{
	cancel_hook_fn hook;

	pthread_mutex_lock(&token->lock);
	if (atomic_exchange(&token->requested, 1) == 0) {
		pthread_cond_broadcast(&token->wake);
		/* The hook stays set (clear still clears it), but runs once:
		 * set refuses a requested token. */
		if ((hook = token->hook) != NULL)
			hook(token->hook_arg);
	}
	pthread_mutex_unlock(&token->lock);
}

int
cancel_requested(struct cancel_token *token)
{
	return token != NULL && atomic_load(&token->requested) != 0;
}

void
cancel_deadline(uint64_t us, struct timespec *deadline)
{
	clock_gettime(CLOCK_MONOTONIC, deadline);
	deadline->tv_sec += (time_t)(us / 1000000);
	deadline->tv_nsec += (long)(us % 1000000) * 1000L;
	if (deadline->tv_nsec >= 1000000000L) {
		deadline->tv_sec++;
		deadline->tv_nsec -= 1000000000L;
	}
}

int
cancel_sleep_us(struct cancel_token *token, uint64_t us)
{
	struct timespec deadline;
	int rc = 0;

	if (token == NULL) {
		clock_sleep_us(us);
		return 0;
	}
	cancel_deadline(us, &deadline);
	pthread_mutex_lock(&token->lock);
	/* 0 is a (possibly spurious) wake-up; ETIMEDOUT or an error ends. */
	while (!atomic_load(&token->requested) && rc == 0)
		rc = pthread_cond_timedwait(&token->wake, &token->lock,
		    &deadline);
	rc = atomic_load(&token->requested) ? -1 : 0;
	pthread_mutex_unlock(&token->lock);
	return rc;
}

int
cancel_hook_set(struct cancel_token *token, cancel_hook_fn hook, void *arg)
{
	int rc = 0;

	if (token == NULL)
		return 0;
	pthread_mutex_lock(&token->lock);
	if (atomic_load(&token->requested))
		rc = -1;
	else {
		token->hook = hook;
		token->hook_arg = arg;
	}
	pthread_mutex_unlock(&token->lock);
	return rc;
}

void
cancel_hook_clear(struct cancel_token *token)
{
	if (token == NULL)
		return;
	pthread_mutex_lock(&token->lock);	/* waits for a running hook */
	token->hook = NULL;
	token->hook_arg = NULL;
	pthread_mutex_unlock(&token->lock);
}
