/* For tests that check they leave no descriptor open behind them. */
#ifndef CU_TEST_FDS_H
#define CU_TEST_FDS_H

/* How many fds this process has open (from /proc/self/fd), or -1. */
int count_fds(void);

#endif
