/*
 * A TERM while the worker boots (src/worker/boot.c): the real handler
 * (cu_worker_signals, a raised SIGTERM) lets go of a real listening
 * socket at once -- a client is refused, though the number stays taken
 * until the boot's end, which closes it and says so; without a TERM the
 * listener is left as it was; a TERM that came before the boot began
 * lets go at its start.
 */
#include "worker/worker.h"
#include "../lib/tap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A TCP listener on 127.0.0.1, an ephemeral port, into *l. */
static void listener(struct cu_listener *l)
{
    struct sockaddr_in *a = (struct sockaddr_in *)&l->sa;

    memset(l, 0, sizeof(*l));
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    l->salen = sizeof(*a);
    l->family = AF_INET;
    l->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (l->fd < 0 || bind(l->fd, (struct sockaddr *)a, l->salen) < 0 ||
        listen(l->fd, 8) < 0 || getsockname(l->fd, (struct sockaddr *)a, &l->salen) < 0)
        bail("listener: %s", strerror(errno));
}

/* Whether a client gets through to l's address. */
static int connects(const struct cu_listener *l)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), rc;

    if (fd < 0)
        bail("socket: %s", strerror(errno));
    rc = connect(fd, (const struct sockaddr *)&l->sa, l->salen);
    close(fd);
    return rc == 0;
}

static int listening(int fd)
{
    int on = 0;
    socklen_t len = sizeof(on);

    return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 && on;
}

static int is_open(int fd)
{
    return fcntl(fd, F_GETFD) >= 0;
}

int main(void)
{
    struct cu_worker_slot slot;
    struct cu_listener l;
    int fd;

    memset(&slot, 0, sizeof(slot));
    if (cu_worker_signals(&slot) < 0)
        bail("cu_worker_signals");

    listener(&l);  /* no TERM: nothing changes */
    fd = l.fd;
    cu_worker_boot_begin(&l, 1);
    ok(cu_worker_boot_end() == 0, "no TERM: the boot's end says nothing was let go");
    ok(l.fd == fd && listening(fd) && connects(&l), "no TERM: the listener is as it was");
    close(l.fd);

    listener(&l);  /* a TERM in the boot */
    fd = l.fd;
    cu_worker_boot_begin(&l, 1);
    if (raise(SIGTERM) != 0)
        bail("raise");
    ok(cu_worker_stop == 1, "the TERM asks for the stop");
    ok(l.fd == fd && is_open(fd) && !listening(fd),
       "the number stays taken, by something that does not listen");
    ok(!connects(&l), "the listening socket is gone: a client is refused");
    ok(cu_worker_boot_end() == 1, "the boot's end says the listeners were let go");
    ok(l.fd == -1 && !is_open(fd), "the number is closed, the listener's fd -1");
    ok(cu_worker_boot_end() == 0, "a second end is a no-op");
    if (raise(SIGTERM) != 0)  /* after the boot: the handler leaves listeners alone */
        bail("raise");
    ok(l.fd == -1, "a TERM after the boot touches nothing");

    listener(&l);  /* a TERM before the boot began (cu_worker_stop is set) */
    fd = l.fd;
    cu_worker_boot_begin(&l, 1);
    ok(!connects(&l), "a TERM before the boot: let go at its start");
    ok(cu_worker_boot_end() == 1 && l.fd == -1 && !is_open(fd), "and closed at its end");
    return tap_done();
}
