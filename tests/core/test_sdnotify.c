/*
 * Tests for src/core/sdnotify.c: datagrams to a path and to an abstract
 * name, received by a socket the test binds, and the addresses refused.
 */
#include "core/sdnotify.h"
#include "../lib/tap.h"

#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static char dir[64];

/* A datagram socket bound to name ("/path" or "@abstract"); -1 on error. */
static int receiver(const char *name)
{
    struct sockaddr_un sun;
    size_t n = strlen(name);
    socklen_t len;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    if (fd < 0 || n > sizeof(sun.sun_path))
        return -1;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, name, n);
    len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    if (name[0] == '@')
        sun.sun_path[0] = '\0';
    else
        len++;
    if (bind(fd, (struct sockaddr *)&sun, len) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The next datagram, NUL-terminated, within a second; "" if none. */
static const char *next_msg(int fd)
{
    static char buf[2048];
    struct pollfd p = {.fd = fd, .events = POLLIN};
    ssize_t n;

    buf[0] = '\0';
    if (poll(&p, 1, 1000) != 1)
        return buf;
    n = recv(fd, buf, sizeof(buf) - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

static void test_unset(void)
{
    char err[256] = "";

    unsetenv("NOTIFY_SOCKET");
    ok(!cu_sd_notify_enabled(), "unset: not enabled");
    ok(cu_sd_notify("READY=1", err, sizeof(err)) == 0 && err[0] == '\0',
       "unset: nothing sent, no error");
    setenv("NOTIFY_SOCKET", "", 1);
    ok(!cu_sd_notify_enabled() && cu_sd_notify("READY=1", err, sizeof(err)) == 0,
       "empty: same as unset");
}

static void test_path(void)
{
    char path[128], err[256] = "";
    int fd;

    (void)snprintf(path, sizeof(path), "%s/notify", dir);
    fd = receiver(path);
    if (!ok(fd >= 0, "path: bind the receiver at %s", path))
        return;
    setenv("NOTIFY_SOCKET", path, 1);
    ok(cu_sd_notify_enabled(), "path: enabled");
    ok(cu_sd_notify("READY=1\nMAINPID=42", err, sizeof(err)) == 1, "path: sent (%s)", err);
    ok(strcmp(next_msg(fd), "READY=1\nMAINPID=42") == 0, "path: one datagram, as written");
    ok(cu_sd_notify("STATUS=booted", err, sizeof(err)) == 1, "path: a second one sent");
    ok(strcmp(next_msg(fd), "STATUS=booted") == 0, "path: each message its own datagram");
    close(fd);
    unlink(path);
    ok(cu_sd_notify("STOPPING=1", err, sizeof(err)) == -1 && strstr(err, path) &&
       strstr(err, strerror(ENOENT)), "path: no socket there is an error naming it: %s", err);
}

static void test_abstract(void)
{
    char name[128], err[256] = "";
    int fd, n;

    (void)snprintf(name, sizeof(name), "@cunicorn-test-sdnotify-%d", (int)getpid());
    fd = receiver(name);
    if (!ok(fd >= 0, "abstract: bind the receiver at %s", name))
        return;
    setenv("NOTIFY_SOCKET", name, 1);
    ok(cu_sd_notify("RELOADING=1", err, sizeof(err)) == 1, "abstract: sent (%s)", err);
    ok(strcmp(next_msg(fd), "RELOADING=1") == 0, "abstract: received");
    close(fd);

    /* the longest abstract name: '@' stands for the NUL, 107 more bytes */
    n = snprintf(name, sizeof(name), "@cu-%d-", (int)getpid());
    memset(name + n, 'a', (size_t)(108 - n));
    name[108] = '\0';
    fd = receiver(name);
    setenv("NOTIFY_SOCKET", name, 1);
    ok(fd >= 0 && cu_sd_notify("READY=1", err, sizeof(err)) == 1 &&
       strcmp(next_msg(fd), "READY=1") == 0, "abstract: 108 bytes with the '@' fit (%s)", err);
    if (fd >= 0)
        close(fd);
    name[108] = 'a';
    name[109] = '\0';
    setenv("NOTIFY_SOCKET", name, 1);
    ok(cu_sd_notify("READY=1", err, sizeof(err)) == -1 && strstr(err, "longer than"),
       "abstract: 109 bytes refused: %.40s", err);
}

static void test_refused(void)
{
    char path[200], err[256] = "";

    setenv("NOTIFY_SOCKET", "run/notify", 1);
    ok(cu_sd_notify("READY=1", err, sizeof(err)) == -1 && strstr(err, "absolute"),
       "relative path refused: %s", err);
    memset(path, 'p', sizeof(path));
    path[0] = '/';
    path[108] = '\0';   /* 108 bytes: no room for the NUL */
    setenv("NOTIFY_SOCKET", path, 1);
    ok(cu_sd_notify("READY=1", err, sizeof(err)) == -1 && strstr(err, "longer than"),
       "path of 108 bytes refused");
}

int main(void)
{
    (void)snprintf(dir, sizeof(dir), "/tmp/cu-sdnotify-XXXXXX");
    if (!mkdtemp(dir)) {
        ok(0, "mkdtemp: %s", strerror(errno));
        return tap_done();
    }
    test_unset();
    test_path();
    test_abstract();
    test_refused();
    rmdir(dir);
    return tap_done();
}
