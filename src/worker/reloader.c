/*
 * The reloader's thread (see reloader.h).
 *
 * The files are kept in one array sorted by path, each with what stat()
 * said when it was first seen and, with inotify, the watch of its
 * directory. A directory is watched once however many files it holds (the
 * kernel hands back the same watch descriptor); an event names a file
 * within it, and only an event on one of ours leads to a stat().
 */
#include "worker/reloader.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"

/* Written whole, renamed onto, or touched (utime: IN_ATTRIB). Not
 * IN_MODIFY: a file half written is not worth a restart yet. */
#define WATCH_MASK (IN_CLOSE_WRITE | IN_MOVED_TO | IN_ATTRIB)
#define POLL_MS 1000

struct snap {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    int valid;  /* 0: not seen yet */
};

struct file {
    char *path;    /* as listed */
    char *base;    /* its name in the watched directory */
    int wd;        /* the directory's inotify watch, or -1: polled */
    struct snap st;
};

struct cu_reloader {
    struct cu_reloader_ops ops;
    int ifd;                /* inotify, or -1 (poll) */
    int stop[2];            /* cu_reloader_free wakes the thread */
    struct file *f;
    size_t n, cap;
    pthread_t tid;
    int started;
};

/* ---- what changed --------------------------------------------------------- */

static void take(struct snap *s, const struct stat *st)
{
    s->dev = st->st_dev;
    s->ino = st->st_ino;
    s->size = st->st_size;
    s->mtime = st->st_mtim;
    s->valid = 1;
}

/* 1 if f differs from what was seen before; the first sight is recorded. */
static int changed(struct file *f)
{
    struct stat st;
    struct snap *s = &f->st;

    if (stat(f->path, &st) != 0)
        return 0;  /* gone for now: its return will tell */
    if (!s->valid) {
        take(s, &st);
        return 0;
    }
    if (s->dev == st.st_dev && s->ino == st.st_ino && s->size == st.st_size &&
        s->mtime.tv_sec == st.st_mtim.tv_sec && s->mtime.tv_nsec == st.st_mtim.tv_nsec)
        return 0;
    take(s, &st);
    return 1;
}

/* ---- the list of files ---------------------------------------------------- */

static int by_path(const void *a, const void *b)
{
    return strcmp(((const struct file *)a)->path, ((const struct file *)b)->path);
}

static int by_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* path among the first n files (sorted), or NULL. */
static struct file *find(struct cu_reloader *r, size_t n, const char *path)
{
    struct file key = {.path = (char *)path};

    return n ? bsearch(&key, r->f, n, sizeof(*r->f), by_path) : NULL;
}

/* No more inotify (out of watches): every file is polled from now on. */
static void to_poll(struct cu_reloader *r, const char *why)
{
    cu_log(CU_WARNING, "Reloader: %s; polling the files instead", why);
    close(r->ifd);
    r->ifd = -1;
    for (size_t i = 0; i < r->n; i++)
        r->f[i].wd = -1;
}

/* The directory f really lives in (symbolic links resolved, so that the
 * events are the ones for its bytes) and its name there: malloc'd. */
static char *real_dir(const char *path, char **base)
{
    char *real = realpath(path, NULL), *copy = strdup(real ? real : path);
    char *dir = NULL;

    *base = NULL;
    if (copy) {
        *base = strdup(basename(copy));
        strcpy(copy, real ? real : path);
        /* a file not there (yet): its directory, if that is */
        dir = real ? strdup(dirname(copy)) : realpath(dirname(copy), NULL);
    }
    free(copy);
    free(real);
    if (!dir || !*base) {
        free(dir);
        free(*base);
        *base = NULL;
        return NULL;
    }
    return dir;
}

/* Watches f's directory; f stays polled when that cannot be done. */
static void watch(struct cu_reloader *r, struct file *f)
{
    char *dir = real_dir(f->path, &f->base);
    int wd;

    if (!dir)
        return;
    wd = inotify_add_watch(r->ifd, dir, WATCH_MASK);
    free(dir);
    if (wd >= 0)
        f->wd = wd;
    else if (errno == ENOSPC)
        to_poll(r, "out of inotify watches (fs.inotify.max_user_watches)");
}

int cu_reloader_add(struct cu_reloader *r, char **paths, size_t n)
{
    size_t before = r->n;
    int rc = 0;

    if (n > 0)
        qsort(paths, n, sizeof(*paths), by_str);
    for (size_t i = 0; i < n; i++) {
        struct file *f;

        if (rc < 0 || find(r, before, paths[i]) ||
            (r->n > before && strcmp(r->f[r->n - 1].path, paths[i]) == 0)) {
            free(paths[i]);  /* known, or listed twice */
            continue;
        }
        if (r->n == r->cap) {
            size_t cap = r->cap ? r->cap * 2 : 256;
            struct file *g = realloc(r->f, cap * sizeof(*g));
            if (!g) {
                free(paths[i]);
                rc = -1;
                continue;
            }
            r->f = g;
            r->cap = cap;
        }
        f = &r->f[r->n++];
        memset(f, 0, sizeof(*f));
        f->path = paths[i];
        f->wd = -1;
        (void)changed(f);  /* the first sight */
        if (r->ifd >= 0)
            watch(r, f);
    }
    free(paths);
    if (r->n > before)
        qsort(r->f, r->n, sizeof(*r->f), by_path);
    return rc;
}

/* ---- the thread ----------------------------------------------------------- */

/* The first changed file among those with the watch wd and this name. */
static struct file *on_event(struct cu_reloader *r, const struct inotify_event *e)
{
    for (size_t i = 0; i < r->n; i++) {
        struct file *f = &r->f[i];

        if (f->wd != e->wd)
            continue;
        if (e->mask & IN_IGNORED)
            f->wd = -1;  /* the directory went away: polled now */
        else if (e->len && strcmp(f->base, e->name) == 0 && changed(f))
            return f;
    }
    return NULL;
}

/* Reads what inotify has; the first changed file, or NULL. */
static struct file *read_events(struct cu_reloader *r, int *check_all)
{
    char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    struct file *hit = NULL;
    ssize_t len;

    while (!hit && (len = read(r->ifd, buf, sizeof(buf))) > 0) {
        for (char *p = buf; p < buf + len && !hit;) {
            const struct inotify_event *e = (const struct inotify_event *)(void *)p;

            if (e->mask & IN_Q_OVERFLOW)
                *check_all = 1;  /* events were lost: look at everything */
            else
                hit = on_event(r, e);
            p += sizeof(*e) + e->len;
        }
    }
    return hit;
}

/* The first changed file among the polled ones (all: every file). */
static struct file *check(struct cu_reloader *r, int all)
{
    for (size_t i = 0; i < r->n; i++)
        if ((all || r->f[i].wd < 0) && changed(&r->f[i]))
            return &r->f[i];
    return NULL;
}

static void refresh(struct cu_reloader *r)
{
    char **paths = NULL;
    size_t n = 0, before = r->n;

    if (!r->ops.list || r->ops.list(r->ops.arg, &paths, &n) != 1)
        return;
    if (cu_reloader_add(r, paths, n) < 0)
        cu_log(CU_ERROR, "Reloader: out of memory for the list of files");
    if (r->n > before)
        cu_log(CU_DEBUG, "Reloader: watching %zu more files", r->n - before);
}

static void *run(void *arg)
{
    struct cu_reloader *r = arg;
    long long next = cu_now_ms() + POLL_MS;

    for (;;) {
        struct pollfd p[2] = {{.fd = r->stop[0], .events = POLLIN},
                              {.fd = r->ifd, .events = POLLIN}};
        long long left = next - cu_now_ms();
        struct file *hit = NULL;
        int all = 0;

        if (poll(p, r->ifd >= 0 ? 2 : 1, left > 0 ? (int)left : 0) < 0 &&
            errno != EINTR) {
            cu_log(CU_ERROR, "Reloader: poll: %s", strerror(errno));
            break;
        }
        if (p[0].revents)
            break;
        if (r->ifd >= 0 && (p[1].revents & POLLIN))
            hit = read_events(r, &all);
        if (!hit && (all || cu_now_ms() >= next)) {
            hit = check(r, all);
            if (cu_now_ms() >= next) {
                refresh(r);
                next = cu_now_ms() + POLL_MS;
            }
        }
        if (hit) {
            r->ops.changed(r->ops.arg, hit->path);
            break;
        }
    }
    return NULL;
}

/* ---- life ----------------------------------------------------------------- */

struct cu_reloader *cu_reloader_new(enum cu_reload_engine engine,
                                    const struct cu_reloader_ops *ops)
{
    struct cu_reloader *r = calloc(1, sizeof(*r));

    if (!r)
        return NULL;
    r->ops = *ops;
    r->ifd = -1;
    if (pipe2(r->stop, O_CLOEXEC | O_NONBLOCK) < 0) {
        free(r);
        return NULL;
    }
    if (engine != CU_RELOAD_POLL) {
        r->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (r->ifd < 0 && engine == CU_RELOAD_INOTIFY)
            cu_log(CU_WARNING, "Reloader: no inotify (%s); polling the files "
                   "instead", strerror(errno));
    }
    return r;
}

int cu_reloader_start(struct cu_reloader *r)
{
    sigset_t all, old;
    int rc;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&r->tid, NULL, run, r);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) {
        cu_log(CU_ERROR, "Reloader: cannot start its thread: %s", strerror(rc));
        return -1;
    }
    (void)pthread_setname_np(r->tid, "cu-reloader");
    r->started = 1;
    cu_log(CU_DEBUG, "Reloader (%s): watching %zu files",
           r->ifd >= 0 ? "inotify" : "poll", r->n);
    return 0;
}

void cu_reloader_free(struct cu_reloader *r)
{
    if (!r)
        return;
    if (r->started) {
        (void)!write(r->stop[1], "x", 1);
        pthread_join(r->tid, NULL);
    }
    for (size_t i = 0; i < r->n; i++) {
        free(r->f[i].path);
        free(r->f[i].base);
    }
    free(r->f);
    if (r->ifd >= 0)
        close(r->ifd);
    close(r->stop[0]);
    close(r->stop[1]);
    free(r);
}
