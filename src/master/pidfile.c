/*
 * The pidfile (docs/compat.md, Pidfile): written through a temporary file
 * renamed over the path, refused when it names another live process, written
 * again on HUP (the path may have changed) and on a USR2 child's promotion,
 * and removed on the way out if it still holds our pid.
 */
#include "master/internal.h"

#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "master/upgrade.h"

/* The pid in path, 0 if none, unreadable or garbage. */
static pid_t pidfile_read(const char *path)
{
    char buf[32];
    ssize_t n;
    long v;
    char *end;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return 0;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    errno = 0;
    v = strtol(buf, &end, 10);
    if (errno != 0 || end == buf || v <= 0 || v > INT_MAX)
        return 0;
    return (pid_t)v;
}

/* Writes "<pid>\n" through a temporary file renamed over path (0644).
 * Refuses when path names another live process. 0 or -1 (logged). */
static int pidfile_create(const char *path)
{
    pid_t old = pidfile_read(path), me = getpid();
    char tmp[PATH_MAX], line[32];
    int fd, n;

    if (old > 0 && old != me && (kill(old, 0) == 0 || errno == EPERM)) {
        cu_log(CU_ERROR, "Already running on PID %d (or pid file '%s' is stale)",
               (int)old, path);
        return -1;
    }
    if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp)) {
        cu_log(CU_ERROR, "pidfile path too long: %s", path);
        return -1;
    }
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        cu_log(CU_ERROR, "Can't create pidfile %s: %s", path, strerror(errno));
        return -1;
    }
    n = snprintf(line, sizeof(line), "%d\n", (int)me);
    if (fchmod(fd, 0644) < 0 || write(fd, line, (size_t)n) != n) {
        cu_log(CU_ERROR, "Can't write pidfile %s: %s", path, strerror(errno));
        close(fd);
        unlink(tmp);
        return -1;
    }
    if (close(fd) < 0 || rename(tmp, path) < 0) {
        cu_log(CU_ERROR, "Can't write pidfile %s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* Removes path if it still holds our pid. */
static void pidfile_unlink(const char *path)
{
    if (pidfile_read(path) == getpid() && unlink(path) < 0)
        cu_log(CU_WARNING, "Can't remove pidfile %s: %s", path, strerror(errno));
}

/* On the way out: the pidfile we wrote, if it still holds our pid. */
void cu_pidfile_remove(struct master *m)
{
    if (m->pidfile == NULL)
        return;
    pidfile_unlink(m->pidfile);
    free(m->pidfile);
    m->pidfile = NULL;
}

/* path, or "path.2" while this master is a USR2 child not yet promoted
 * (docs/compat.md, Binary upgrade and inherited sockets). NULL when out of memory. */
static char *pidfile_name(const struct master *m, const char *path)
{
    size_t n = strlen(path);
    char *p;

    if (m->up == NULL || m->up->parent == 0)
        return strdup(path);
    p = malloc(n + 3);
    if (p != NULL) {
        memcpy(p, path, n);
        memcpy(p + n, ".2", 3);
    }
    return p;
}

/* Writes cfg.pidfile (if any; ".2" added while a USR2 child) and
 * remembers its path. 0 or -1. */
int cu_pidfile_start(struct master *m)
{
    const char *path = m->cfg.pidfile;

    if (path == NULL || path[0] == '\0')
        return 0;
    m->pidfile = pidfile_name(m, path);
    if (m->pidfile == NULL) {
        cu_log(CU_ERROR, "out of memory");
        return -1;
    }
    if (pidfile_create(m->pidfile) < 0) {
        free(m->pidfile);
        m->pidfile = NULL;
        return -1;
    }
    return 0;
}

/* HUP: write cfg.pidfile again (renamed over the old one when the path is
 * the same), and remove the old one when the path changed. */
int cu_pidfile_restart(struct master *m)
{
    char *old = m->pidfile;
    int rc;

    m->pidfile = NULL;
    rc = cu_pidfile_start(m);
    if (old != NULL && (m->pidfile == NULL || strcmp(old, m->pidfile) != 0))
        pidfile_unlink(old);
    free(old);
    return rc;
}
