/*
 * The server's set of listening sockets (src/net/listeners.c): binds
 * opened; sockets handed over by an old master (GUNICORN_FD) or systemd
 * (LISTEN_FDS) adopted and standing in for the binds they match; a bad
 * bind failing with what was opened still handed back; a bind that fails
 * tried again, a stop signal ending the wait; the listen queues for
 * enable_backlog_metric. Only 127.0.0.1 and a mkdtemp directory.
 */
#include "net/listeners.h"
#include "core/clock.h"
#include "../lib/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define NO_UID ((uid_t)-1)
#define NO_GID ((gid_t)-1)

/* One try per address, no owner for the socket files. */
static const struct cu_bind_opts once = {16, 0, NO_UID, NO_GID, 1};
#define OWNED(u, g) (&(const struct cu_bind_opts){16, 0, (u), (g), 1})

static void close_all(struct cu_listener *ls, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cu_listener_close(&ls[i], 1);
    free(ls);
}

static int listening(int fd)
{
    int v = 0;
    socklen_t len = sizeof(v);

    return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) == 0 && v;
}

/* A listener of our own on 127.0.0.1, as an old master would hand it. */
static int own_listener(char *bind, size_t n)
{
    struct cu_addr a;
    struct cu_listener l;
    char err[256];

    if (cu_addr_parse("127.0.0.1:0", &a, err, sizeof(err)) < 0 ||
        cu_listen(&a, 16, 0, &l, err, sizeof(err)) < 0)
        return -1;
    (void)snprintf(bind, n, "%s", l.name);
    return l.fd;
}

static void test_binds(const char *dir)
{
    char unix_bind[200];
    const char *bind[] = {"127.0.0.1:0", unix_bind};
    struct cu_listener *ls;
    size_t n, sd;

    (void)snprintf(unix_bind, sizeof(unix_bind), "unix:%s/a.sock", dir);
    ok(cu_listeners_open(&ls, &n, &sd, bind, 2, &once) == 0 && n == 2 &&
       sd == 0,
       "two binds: two listeners, none from systemd");
    ok(n == 2 && listening(ls[0].fd) && listening(ls[1].fd) && ls[1].family == AF_UNIX,
       "both listen, the second on the UNIX path");
    close_all(ls, n);
}

/* A client connected to ls's port (127.0.0.1), not accepted; -1 on error. */
static int connect_to(const struct cu_listener *l)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0 || connect(fd, (const struct sockaddr *)&l->sa, l->salen) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* enable_backlog_metric: the connections waiting in the TCP accept
 * queues; UNIX listeners left out; -1 with no TCP listener. */
static void test_backlog(const char *dir)
{
    char unix_bind[200];
    const char *bind[] = {"127.0.0.1:0", unix_bind, "127.0.0.1:0"};
    struct cu_listener *ls;
    size_t n, sd;
    int c[5], made = 0, rc;

    (void)snprintf(unix_bind, sizeof(unix_bind), "unix:%s/b.sock", dir);
    if (!ok(cu_listeners_open(&ls, &n, &sd, bind, 3, &once) == 0 &&
            n == 3, "backlog: two TCP listeners and a UNIX one"))
        return;
    ok(cu_listeners_backlog(ls, n) == 0, "nobody waiting: 0");
    for (int i = 0; i < 5; i++)
        made += (c[i] = connect_to(&ls[i < 3 ? 0 : 2])) >= 0;
    rc = cu_listeners_backlog(ls, n);
    ok(made == 5 && rc == 5, "3 + 2 clients waiting in the two TCP queues: 5 (%d)", rc);
    ok(cu_listeners_backlog(ls, 1) == 3, "the first listener alone: 3");
    ok(cu_listeners_backlog(&ls[1], 1) == -1, "a UNIX listener alone: -1 (unknown)");
    ok(cu_listeners_backlog(ls, 0) == -1, "no listener: -1");
    {
        int fd = accept(ls[0].fd, NULL, NULL);
        rc = cu_listeners_backlog(ls, n);
        ok(fd >= 0 && rc == 4, "one accepted: 4 (%d)", rc);
        if (fd >= 0)
            close(fd);
    }
    for (int i = 0; i < 5; i++)
        if (c[i] >= 0)
            close(c[i]);
    close_all(ls, n);
}

static void test_bad_bind(void)
{
    const char *bind[] = {"127.0.0.1:0", "host:99999"};
    struct cu_listener *ls;
    size_t n, sd;

    ok(cu_listeners_open(&ls, &n, &sd, bind, 2, &once) == -1 && n == 1 &&
       listening(ls[0].fd), "a bad second bind fails; the first is handed back to close");
    close_all(ls, n);
}

/* The owner and group of dir/name, as lstat says; -1 when there is none. */
static int owner_of(const char *dir, const char *name, long *uid, long *gid)
{
    char path[300];
    struct stat st;

    (void)snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (lstat(path, &st) < 0)
        return -1;
    *uid = (long)st.st_uid;
    *gid = (long)st.st_gid;
    return 0;
}

/* --user/--group: the socket files bound are given to them; an fd:// UNIX
 * socket (an inherited one) is left alone. */
static void test_owner(const char *dir)
{
    char unix_bind[200], fdbind[32];
    const char *bind[] = {unix_bind};
    struct cu_listener *ls;
    size_t n, sd;
    long u = -2, g = -2;
    uid_t other = geteuid() == 0 ? 65534 : geteuid() + 1;
    int rc;

    (void)snprintf(unix_bind, sizeof(unix_bind), "unix:%s/o.sock", dir);
    rc = cu_listeners_open(&ls, &n, &sd, bind, 1, &once) == 0 && n == 1 &&
         owner_of(dir, "o.sock", &u, &g) == 0;
    ok(rc && u == (long)geteuid() && g == (long)getegid(),
       "no --user/--group: the socket file is the master's (%ld:%ld)", u, g);
    close_all(ls, n);
    if (geteuid() == 0) {
        rc = cu_listeners_open(&ls, &n, &sd, bind, 1, OWNED(65534, 65533)) == 0 && n == 1 &&
             owner_of(dir, "o.sock", &u, &g) == 0;
        ok(rc && u == 65534 && g == 65533,
           "as root: the socket file goes to the user and group (%ld:%ld)", u, g);
        close_all(ls, n);
        rc = cu_listeners_open(&ls, &n, &sd, bind, 1, OWNED(NO_UID, 65533)) == 0 && n == 1 &&
             owner_of(dir, "o.sock", &u, &g) == 0;
        ok(rc && u == 0 && g == 65533,
           "as root: a group alone changes the group only (%ld:%ld)", u, g);
        close_all(ls, n);
    } else {
        ok(cu_listeners_open(&ls, &n, &sd, bind, 1, OWNED(other, NO_GID)) == -1 && n == 0,
           "not root: another user cannot have it: the start fails, nothing left open");
        close_all(ls, n);
        ok(owner_of(dir, "o.sock", &u, &g) == -1, "and the socket file is removed");
    }
    /* an fd:// UNIX socket is not ours to give away: as Gunicorn, untouched
     * (not root: the chown would fail, so the start would) */
    {
        struct cu_addr a;
        struct cu_listener l;
        char err[256];

        (void)snprintf(unix_bind, sizeof(unix_bind), "unix:%s/fd.sock", dir);
        if (cu_addr_parse(unix_bind, &a, err, sizeof(err)) < 0 ||
            cu_listen(&a, 16, 0, &l, err, sizeof(err)) < 0) {
            ok(0, "a UNIX listener to pass as fd://: %s", err);
            return;
        }
        (void)snprintf(fdbind, sizeof(fdbind), "fd://%d", l.fd);
        bind[0] = fdbind;
        rc = cu_listeners_open(&ls, &n, &sd, bind, 1, OWNED(other, NO_GID)) == 0 && n == 1 &&
             owner_of(dir, "fd.sock", &u, &g) == 0;
        ok(rc && u == (long)geteuid(), "an fd:// UNIX socket keeps its owner (%ld)", u);
        close_all(ls, n);
    }
}

/* A bind that fails is tried again a second later, opts.tries times in
 * all; INT, QUIT or TERM ends the wait, and the signal mask is the
 * caller's again after it; a path that is no socket is not tried again
 * (nor removed). */
static void test_retry(const char *dir)
{
    char name[300], file[200], unix_bind[220];
    int held = own_listener(name, sizeof(name));
    const char *bind[] = {name};
    struct cu_bind_opts twice = once, five = once;
    struct cu_listener *ls;
    sigset_t term, old, before, after;
    size_t n, sd;
    int64_t t0;
    int rc, fd, same = 1;

    if (!ok(held >= 0, "a listener holding a port"))
        return;
    twice.tries = 2;
    (void)sigprocmask(SIG_SETMASK, NULL, &before);
    t0 = cu_now_ms();
    rc = cu_listeners_open(&ls, &n, &sd, bind, 1, &twice);
    ok(rc == -1 && n == 0 && cu_now_ms() - t0 >= 950,
       "a port in use, two tries: fails after a second (%d, %lld ms)", rc,
       (long long)(cu_now_ms() - t0));
    close_all(ls, n);
    (void)sigprocmask(SIG_SETMASK, NULL, &after);
    for (int s = 1; s < SIGRTMIN; s++)
        same &= sigismember(&before, s) == sigismember(&after, s);
    ok(same, "the signals blocked for the wait are unblocked after it");
    /* a TERM already pending when the wait begins ends it (1: only a
     * stop signal ends a wait so) */
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    (void)sigprocmask(SIG_BLOCK, &term, &old);
    (void)raise(SIGTERM);
    rc = cu_listeners_open(&ls, &n, &sd, bind, 1, &twice);
    ok(rc == 1 && n == 0, "TERM while waiting to try again: 1 (%d)", rc);
    close_all(ls, n);
    (void)sigprocmask(SIG_SETMASK, &old, NULL);
    close(held);
    (void)snprintf(file, sizeof(file), "%s/plain", dir);
    (void)snprintf(unix_bind, sizeof(unix_bind), "unix:%s", file);
    bind[0] = unix_bind;
    five.tries = 5;
    fd = open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    t0 = cu_now_ms();
    rc = cu_listeners_open(&ls, &n, &sd, bind, 1, &five);
    /* five tries would take four seconds */
    ok(fd >= 0 && rc == -1 && n == 0 && cu_now_ms() - t0 < 3000 && access(file, F_OK) == 0,
       "a UNIX path that is a plain file: fails at once, not tried again, left there");
    close_all(ls, n);
    if (fd >= 0)
        close(fd);
    (void)unlink(file);
}

static void test_inherited(void)
{
    char name[300], fdbind[32];
    int fd = own_listener(name, sizeof(name)), other;
    struct cu_listener *ls;
    size_t n, sd;
    char fdtext[16], othername[300];

    if (!ok(fd >= 0, "a listener to hand over"))
        return;
    (void)snprintf(fdtext, sizeof(fdtext), "%d", fd);
    /* an old master's socket stands in for the bind it matches */
    (void)setenv("GUNICORN_PID", "1", 1);
    (void)setenv("GUNICORN_FD", fdtext, 1);
    {
        const char *bind[] = {name};
        ok(cu_listeners_open(&ls, &n, &sd, bind, 1, &once) == 0 && n == 1 && sd == 0 &&
           ls[0].fd == fd && !getenv("GUNICORN_FD"),
           "GUNICORN_FD: %s adopted, not bound again", name);
        free(ls);  /* the fd is still ours: used again below */
    }
    /* a bind none of them matches is not opened (as Gunicorn); fd:// is */
    other = own_listener(othername, sizeof(othername));
    (void)snprintf(fdbind, sizeof(fdbind), "fd://%d", other);
    (void)setenv("GUNICORN_FD", fdtext, 1);
    {
        const char *bind[] = {"127.0.0.1:1", fdbind};
        ok(cu_listeners_open(&ls, &n, &sd, bind, 2, &once) == 0 && n == 2 &&
           ls[0].fd == fd && ls[1].fd == other,
           "with inherited sockets: another address is not bound, fd:// is adopted");
        close_all(ls, n);
    }
    (void)unsetenv("GUNICORN_PID");
}

static void test_systemd(void)
{
    char name[300], pid[16];
    int fd = own_listener(name, sizeof(name));
    struct cu_listener *ls;
    size_t n, sd;
    const char *bind[] = {"127.0.0.1:0"};

    if (!ok(fd >= 0 && dup2(fd, CU_LISTEN_FDS_START) == CU_LISTEN_FDS_START,
            "a listener at fd 3, as systemd passes it"))
        return;
    if (fd != CU_LISTEN_FDS_START)
        close(fd);
    (void)snprintf(pid, sizeof(pid), "%d", (int)getpid());
    (void)setenv("LISTEN_PID", pid, 1);
    (void)setenv("LISTEN_FDS", "1", 1);
    ok(cu_listeners_open(&ls, &n, &sd, bind, 1, &once) == 0 && n == 1 && sd == 1 &&
       ls[0].fd == CU_LISTEN_FDS_START && !getenv("LISTEN_FDS"),
       "LISTEN_FDS: systemd's socket adopted and counted, the bind it matches not opened");
    close_all(ls, n);
}

int main(void)
{
    char dir[] = "/tmp/cu-listeners-XXXXXX";

    if (!mkdtemp(dir)) {
        ok(0, "mkdtemp: %s", strerror(errno));
        return tap_done();
    }
    test_binds(dir);
    test_owner(dir);
    test_backlog(dir);
    test_bad_bind();
    test_retry(dir);
    test_inherited();
    test_systemd();
    ok(rmdir(dir) == 0, "temp dir left empty and removed");
    return tap_done();
}
