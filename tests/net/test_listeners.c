/*
 * The server's set of listening sockets (src/net/listeners.c): binds
 * opened; sockets handed over by an old master (GUNICORN_FD) or systemd
 * (LISTEN_FDS) adopted and standing in for the binds they match; a bad
 * bind failing with what was opened still handed back. Only 127.0.0.1 and
 * a mkdtemp directory.
 */
#include "net/listeners.h"
#include "../lib/tap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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
    ok(cu_listeners_open(&ls, &n, &sd, bind, 2, 16, 0) == 0 && n == 2 && sd == 0,
       "two binds: two listeners, none from systemd");
    ok(n == 2 && listening(ls[0].fd) && listening(ls[1].fd) && ls[1].family == AF_UNIX,
       "both listen, the second on the UNIX path");
    close_all(ls, n);
}

static void test_bad_bind(void)
{
    const char *bind[] = {"127.0.0.1:0", "host:99999"};
    struct cu_listener *ls;
    size_t n, sd;

    ok(cu_listeners_open(&ls, &n, &sd, bind, 2, 16, 0) == -1 && n == 1 &&
       listening(ls[0].fd), "a bad second bind fails; the first is handed back to close");
    close_all(ls, n);
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
        ok(cu_listeners_open(&ls, &n, &sd, bind, 1, 16, 0) == 0 && n == 1 && sd == 0 &&
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
        ok(cu_listeners_open(&ls, &n, &sd, bind, 2, 16, 0) == 0 && n == 2 &&
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
    ok(cu_listeners_open(&ls, &n, &sd, bind, 1, 16, 0) == 0 && n == 1 && sd == 1 &&
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
    test_bad_bind();
    test_inherited();
    test_systemd();
    ok(rmdir(dir) == 0, "temp dir left empty and removed");
    return tap_done();
}
