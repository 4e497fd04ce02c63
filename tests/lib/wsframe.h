/*
 * A masked WebSocket client frame, for the codec's tests.
 */
#ifndef CU_TEST_WSFRAME_H
#define CU_TEST_WSFRAME_H

#include <string.h>

#include "http/ws.h"

/* Writes into out a frame whose first byte is b0, its payload pl[0..n)
 * masked with mask; returns its length. */
static inline size_t ws_test_frame(uint8_t *out, uint8_t b0, const void *pl, size_t n,
                                   const uint8_t mask[4])
{
    size_t h = ws_frame_head(out, 1, 0, n);

    out[0] = b0;
    out[1] |= 0x80;
    memcpy(out + h, mask, 4);
    memcpy(out + h + 4, pl, n);
    ws_unmask(out + h + 4, n, mask, 0);
    return h + 4 + n;
}

#endif
