/*
 * Deadline lists (src/ev/timers.c): order by deadline whatever the order
 * of insertion, ties kept in arrival order, removal from anywhere, what
 * is due, the count.
 */
#include "ev/timers.h"
#include "../lib/tap.h"

#include <stdlib.h>

/* l holds exactly want[0..n), front to back, with every link right. */
static int order_is(const struct cu_timers *l, const struct cu_timer *const *want, int n)
{
    const struct cu_timer *t = l->first, *prev = NULL;

    for (int i = 0; i < n; i++, prev = t, t = t->next)
        if (t != want[i] || t->prev != prev || t->list != l)
            return 0;
    return t == NULL && l->last == prev && l->n == n;
}

int main(void)
{
    struct cu_timers l = {0};
    struct cu_timer t[6] = {{0}};
    int64_t d[6] = {50, 10, 30, 30, 70, 5};

    ok(cu_timers_due(&l, 1000) == NULL && cu_timers_next(&l) == 0 && l.n == 0,
       "empty: nothing due, no next deadline");
    for (int i = 0; i < 6; i++) {
        t[i].deadline = d[i];
        cu_timers_add(&l, &t[i]);
    }
    {
        const struct cu_timer *want[] = {&t[5], &t[1], &t[2], &t[3], &t[0], &t[4]};
        ok(order_is(&l, want, 6), "six added out of order: by deadline, ties in arrival order");
    }
    ok(cu_timers_next(&l) == 5, "next deadline: the earliest");
    ok(cu_timers_due(&l, 4) == NULL && cu_timers_due(&l, 5) == &t[5],
       "due: only at or after the deadline");
    cu_timers_remove(&t[2]);   /* the middle */
    cu_timers_remove(&t[5]);   /* the front */
    cu_timers_remove(&t[4]);   /* the back */
    {
        const struct cu_timer *want[] = {&t[1], &t[3], &t[0]};
        ok(order_is(&l, want, 3), "removed from the middle, front and back: links intact");
    }
    ok(t[2].list == NULL && t[2].prev == NULL && t[2].next == NULL,
       "a removed entry is in no list");
    cu_timers_remove(&t[2]);
    ok(l.n == 3, "removing an entry that is in no list does nothing");
    t[2].deadline = 1;
    cu_timers_add(&l, &t[2]);
    t[4].deadline = 1000;
    cu_timers_add(&l, &t[4]);
    {
        const struct cu_timer *want[] = {&t[2], &t[1], &t[3], &t[0], &t[4]};
        ok(order_is(&l, want, 5), "added again at the front and at the back");
    }
    /* drain what is due at 30, as the expiry loop does */
    {
        struct cu_timer *x;
        int n = 0;
        while ((x = cu_timers_due(&l, 30))) {
            cu_timers_remove(x);
            n++;
        }
        ok(n == 3 && cu_timers_next(&l) == 50 && l.n == 2, "three due at 30, 50 next");
    }
    cu_timers_remove(&t[0]);
    cu_timers_remove(&t[4]);
    ok(l.first == NULL && l.last == NULL && l.n == 0, "emptied");
    return tap_done();
}
