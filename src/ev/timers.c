/* Deadline lists. See timers.h. */
#include "ev/timers.h"

#include <stddef.h>

void cu_timers_add(struct cu_timers *l, struct cu_timer *t)
{
    struct cu_timer *at = l->last;

    while (at && at->deadline > t->deadline)
        at = at->prev;
    t->prev = at;
    t->next = at ? at->next : l->first;
    if (t->next)
        t->next->prev = t;
    else
        l->last = t;
    if (at)
        at->next = t;
    else
        l->first = t;
    t->list = l;
    l->n++;
}

void cu_timers_remove(struct cu_timer *t)
{
    struct cu_timers *l = t->list;

    if (!l)
        return;
    if (t->prev)
        t->prev->next = t->next;
    else
        l->first = t->next;
    if (t->next)
        t->next->prev = t->prev;
    else
        l->last = t->prev;
    t->prev = t->next = NULL;
    t->list = NULL;
    l->n--;
}

struct cu_timer *cu_timers_due(const struct cu_timers *l, int64_t now)
{
    return l->first && l->first->deadline <= now ? l->first : NULL;
}

int64_t cu_timers_next(const struct cu_timers *l)
{
    return l->first ? l->first->deadline : 0;
}
