/*
 * The server's listening sockets, as the master opens them at start-up:
 * the ones handed over (by systemd, or by an old master on USR2) are
 * adopted, and stand in for the binds they match, as Gunicorn's do
 * (docs/compat.md, "Binary upgrade and inherited sockets"); the other
 * binds are opened. Plain C.
 */
#ifndef CU_NET_LISTENERS_H
#define CU_NET_LISTENERS_H

#include <stddef.h>
#include <sys/types.h>

#include "net/listen.h"

/*
 * Opens the listeners for bind[0..n_bind) into *out (malloc'd, *n of
 * them). *n_systemd: how many came
 * from systemd (0 when none). The UNIX socket files it binds are given to
 * uid and gid (-1: unchanged; --user and --group, as Gunicorn's); the
 * inherited ones are left as they are. 0, or -1 with the reason logged;
 * what was opened is in *out either way, for cu_listener_close.
 */
int cu_listeners_open(struct cu_listener **out, size_t *n, size_t *n_systemd,
                      const char *const *bind, size_t n_bind, int backlog,
                      int reuse_port, uid_t uid, gid_t gid);

/* Logs each of ls[0..n) as Gunicorn does: "Listening at: http://ADDR
 * (PID)", https:// when tls, the UNIX socket's path alone. */
void cu_listeners_announce(const struct cu_listener *ls, size_t n, int tls);

/*
 * enable_backlog_metric (Gunicorn's get_backlog): the connections waiting
 * in the accept queues of the TCP listeners of ls[0..n), read from
 * TCP_INFO (tcpi_unacked, which a listening socket uses for its queue's
 * length; 0 for one whose TCP_INFO cannot be read). -1 when there is no
 * TCP listener, and off Linux, where Gunicorn sends nothing either. Ours:
 * UNIX listeners are left out; Gunicorn adds -1 for each ("unknown").
 */
int cu_listeners_backlog(const struct cu_listener *ls, size_t n);

/* Whether a connection waits in the accept queue of one of ls[0..n) (a
 * poll that never waits; closed ones, fd -1, are skipped): 1 or 0. */
int cu_listeners_waiting(const struct cu_listener *ls, size_t n);

#endif
