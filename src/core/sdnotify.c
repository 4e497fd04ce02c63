/*
 * sd_notify(3) in a few lines: see sdnotify.h. A fresh datagram socket per
 * message (messages are rare: boot, reload, stop), so no fd is kept open
 * for the workers to inherit.
 */
#include "core/sdnotify.h"
#include "core/errbuf.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int cu_sd_notify_enabled(void)
{
    const char *s = getenv("NOTIFY_SOCKET");

    return s != NULL && s[0] != '\0';
}

/* $NOTIFY_SOCKET as an address: "/path" or "@abstract". 0 or -1. */
static int notify_addr(const char *name, struct sockaddr_un *sun,
                       socklen_t *len, char *err, size_t errlen)
{
    size_t n = strlen(name);

    memset(sun, 0, sizeof(*sun));
    sun->sun_family = AF_UNIX;
    if (name[0] != '/' && name[0] != '@') {
        cu_seterr(err, errlen, "NOTIFY_SOCKET=%s: not an absolute path or "
                  "an @abstract name", name);
        return -1;
    }
    /* A path needs room for its NUL; an abstract name has its leading
     * NUL in place of the '@' and no terminator. */
    if (n >= sizeof(sun->sun_path) + (name[0] == '@')) {
        cu_seterr(err, errlen, "NOTIFY_SOCKET=%s: longer than %zu bytes", name,
                  sizeof(sun->sun_path) - 1);
        return -1;
    }
    memcpy(sun->sun_path, name, n);
    if (name[0] == '@') {
        sun->sun_path[0] = '\0';
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    } else {
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    }
    return 0;
}

int cu_sd_notify(const char *msg, char *err, size_t errlen)
{
    const char *name = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sun;
    socklen_t len;
    size_t n = strlen(msg);
    ssize_t sent;
    int fd, saved;

    if (name == NULL || name[0] == '\0')
        return 0;
    if (notify_addr(name, &sun, &len, err, errlen) < 0)
        return -1;
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        cu_seterr(err, errlen, "NOTIFY_SOCKET: socket: %s", strerror(errno));
        return -1;
    }
    do
        sent = sendto(fd, msg, n, MSG_NOSIGNAL, (struct sockaddr *)&sun, len);
    while (sent < 0 && errno == EINTR);
    saved = errno;
    (void)close(fd);
    if (sent < 0) {
        cu_seterr(err, errlen, "NOTIFY_SOCKET=%s: sendto: %s", name,
                  strerror(saved));
        return -1;
    }
    if ((size_t)sent != n) {
        cu_seterr(err, errlen, "NOTIFY_SOCKET=%s: short datagram (%zd of %zu)",
                  name, sent, n);
        return -1;
    }
    return 1;
}
