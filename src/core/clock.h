/*
 * The one clock every timer, deadline and heartbeat reads: CLOCK_MONOTONIC,
 * which no change of the wall clock moves. Plain C.
 */
#ifndef CU_CORE_CLOCK_H
#define CU_CORE_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t cu_now_us(void)
{
    struct timespec ts;

    (void)clock_gettime(CLOCK_MONOTONIC, &ts);  /* cannot fail for this clock */
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static inline int64_t cu_now_ms(void)
{
    return cu_now_us() / 1000;
}

#endif
