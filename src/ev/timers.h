/*
 * Deadline lists: entries kept in the order of their deadlines, so that
 * what is due is always at the front. Intrusive (an entry is embedded in
 * what it times) and allocation-free. Plain C; not locked: the caller
 * holds its own lock around every call. Entries mostly arrive with the
 * latest deadline (a timeout from now), so insertion searches from the
 * end and is O(1) in the usual case.
 */
#ifndef CU_EV_TIMERS_H
#define CU_EV_TIMERS_H

#include <stdatomic.h>
#include <stdint.h>

struct cu_timers;

struct cu_timer {
    struct cu_timer *prev, *next;
    struct cu_timers *list;   /* NULL: in no list */
    int64_t deadline;         /* ms (cu_now_ms), while in a list */
};

struct cu_timers {
    struct cu_timer *first, *last;
    atomic_int n;             /* changed under the caller's lock; may be
                               * read without it, as a hint */
};

/* Adds t (not in a list) by its deadline, after the entries with the same. */
void cu_timers_add(struct cu_timers *l, struct cu_timer *t);
/* Takes t out of its list; nothing when it is in none. */
void cu_timers_remove(struct cu_timer *t);
/* The first entry due at `now` (deadline <= now), or NULL. */
struct cu_timer *cu_timers_due(const struct cu_timers *l, int64_t now);
/* The earliest deadline in l, or 0 when it is empty. */
int64_t cu_timers_next(const struct cu_timers *l);

#endif
