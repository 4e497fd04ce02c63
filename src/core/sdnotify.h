/*
 * systemd's readiness protocol (sd_notify(3)) without libsystemd: one
 * datagram of "KEY=value" lines to the AF_UNIX socket named by
 * $NOTIFY_SOCKET, a path ("/run/systemd/notify") or an abstract name
 * ("@name"). Plain C; nothing here logs.
 */
#ifndef CU_CORE_SDNOTIFY_H
#define CU_CORE_SDNOTIFY_H

#include <stddef.h>

/* Whether $NOTIFY_SOCKET is set (and not empty). */
int cu_sd_notify_enabled(void);

/*
 * Sends msg (e.g. "READY=1\nMAINPID=42") as one datagram to
 * $NOTIFY_SOCKET. Returns 1 when sent, 0 when NOTIFY_SOCKET is not set,
 * or -1 with a one-line message in err (a relative or too long address,
 * a socket that is not there, ...). Never blocks: a full queue is an
 * error, not a wait.
 */
int cu_sd_notify(const char *msg, char *err, size_t errlen);

#endif
