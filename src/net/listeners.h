/*
 * The server's listening sockets, as the master opens them at start-up:
 * the ones handed over (by systemd, or by an old master on USR2) are
 * adopted, and stand in for the binds they match, as Gunicorn's do
 * (docs/compat.md, "Binary upgrade and inherited sockets"); the other
 * binds are opened, tried again as Gunicorn's are (docs/compat.md,
 * "Binding"). Plain C.
 */
#ifndef CU_NET_LISTENERS_H
#define CU_NET_LISTENERS_H

#include <stddef.h>
#include <sys/types.h>

#include "net/listen.h"

/* How the binds are opened. */
struct cu_bind_opts {
    int backlog;
    int reuse_port;
    uid_t uid, gid;     /* the UNIX socket files' owner and group (-1: unchanged) */
    int tries;          /* how many times an address is tried, a second apart */
};

/* Gunicorn's number of tries for each address. */
#define CU_BIND_TRIES 5

/*
 * Opens the listeners for bind[0..n_bind) into *out (malloc'd, *n of
 * them). *n_systemd: how many came from systemd (0 when none). The UNIX
 * socket files it binds are given to o->uid and o->gid (--user and
 * --group, as Gunicorn's); the inherited ones are left as they are.
 *
 * An address that cannot be bound, or whose socket file cannot be given
 * away, is tried again a second later, o->tries times in all, as Gunicorn
 * does: each failure and the last are logged in Gunicorn's words. A bind
 * address that does not parse, a UNIX path taken by what is not a socket
 * and an fd:// that cannot be adopted fail at once. INT, QUIT or TERM
 * while it waits to try again ends the wait.
 *
 * 0; -1 with the reason logged; or 1 when a stop signal came while it
 * waited (logged as the master logs a signal it handles): the start is to
 * end, as a stop. What was opened is in *out either way, for
 * cu_listener_close.
 */
int cu_listeners_open(struct cu_listener **out, size_t *n, size_t *n_systemd,
                      const char *const *bind, size_t n_bind,
                      const struct cu_bind_opts *o);

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
