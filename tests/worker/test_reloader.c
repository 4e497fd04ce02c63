/*
 * The reloader (src/worker/reloader.c) with real files, once per engine:
 * what counts as a change, what does not, files listed later, a file that
 * goes away and comes back.
 */
#include "worker/reloader.h"
#include "../lib/tap.h"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char dir[] = "/tmp/cu-reloader-XXXXXX";
static int reports[2];        /* changed() writes the path here */
static const char *later;     /* list() hands this out once */
static volatile int listed;   /* list() was called again after handing out `later` */

static char *path_of(const char *name)
{
    static char buf[4][256];
    static int i;

    i = (i + 1) % 4;
    xsnprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
    return buf[i];
}

static void put(const char *name, const char *text)
{
    int fd = open(path_of(name), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
        diag("writing %s failed", name);
        exit(1);
    }
    close(fd);
}

static int list(void *arg, char ***paths, size_t *n)
{
    static int handed;

    (void)arg;
    if (!later) {
        /* called again: what was handed out before is watched by now */
        if (handed)
            listed = 1;
        handed = 0;
        return 0;
    }
    *paths = malloc(sizeof(char *));
    (*paths)[0] = strdup(path_of(later));
    *n = 1;
    later = NULL;
    handed = 1;
    return 1;
}

static void changed(void *arg, const char *path)
{
    (void)arg;
    (void)!write(reports[1], path, strlen(path));
}

/* What changed() reported within ms, or "" (none). */
static const char *report(int ms)
{
    static char buf[512];
    struct pollfd p = {.fd = reports[0], .events = POLLIN};
    ssize_t n = 0;

    if (poll(&p, 1, ms) == 1)
        n = read(reports[0], buf, sizeof(buf) - 1);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

static struct cu_reloader *watching(enum cu_reload_engine e, const char **names)
{
    static const struct cu_reloader_ops ops = {list, changed, NULL};
    struct cu_reloader *r = cu_reloader_new(e, &ops);
    size_t n = 0;
    char **paths;

    while (names[n])
        n++;
    paths = malloc((n + 1) * sizeof(char *));
    for (size_t i = 0; i < n; i++)
        paths[i] = strdup(path_of(names[i]));
    paths[n] = strdup(path_of(names[0]));  /* listed twice: watched once */
    if (!r || cu_reloader_add(r, paths, n + 1) < 0 || cu_reloader_start(r) < 0) {
        diag("the reloader did not start");
        exit(1);
    }
    return r;
}

static void wait_listed(void)
{
    for (int i = 0; i < 500 && !listed; i++)
        usleep(10000);
}

static void engine(enum cu_reload_engine e, const char *name)
{
    struct cu_reloader *r;
    const char *got;

    put("a.py", "a = 1\n");
    put("b.txt", "b\n");
    unlink(path_of("c.py"));
    unlink(path_of("d.py"));
    r = watching(e, (const char *[]){"a.py", "b.txt", "c.py", NULL});
    chmod(path_of("a.py"), 0600);
    put(".b.txt.swp", "swap");
    ok(*report(1300) == '\0', "%s: a chmod, a file beside ours: nothing", name);
    put("b.txt", "b changed\n");
    got = report(3000);
    ok(strcmp(got, path_of("b.txt")) == 0, "%s: b.txt written: reported (%s)", name, got);
    cu_reloader_free(r);

    r = watching(e, (const char *[]){"a.py", "b.txt", "c.py", NULL});
    put("c.py", "c = 3\n");
    ok(*report(1300) == '\0', "%s: a listed file that appears: first sight, "
       "nothing", name);
    unlink(path_of("a.py"));
    ok(*report(1300) == '\0', "%s: a file removed: nothing", name);
    put("a.py", "a = 2, back\n");
    got = report(3000);
    ok(strcmp(got, path_of("a.py")) == 0, "%s: and back, changed: reported", name);
    cu_reloader_free(r);

    put("d.py", "d = 4\n");
    listed = 0;
    later = "d.py";
    r = watching(e, (const char *[]){"a.py", NULL});
    wait_listed();
    ok(listed, "%s: the list is asked for again", name);
    {
        struct timespec t = {0, 0};
        /* a new mtime for sure, without sleeping past a coarse clock */
        clock_gettime(CLOCK_REALTIME, &t);
        t.tv_sec += 5;
        utimensat(AT_FDCWD, path_of("d.py"), (struct timespec[]){t, t}, 0);
    }
    got = report(3000);
    ok(strcmp(got, path_of("d.py")) == 0, "%s: a file listed later, touched: "
       "reported (%s)", name, got);
    cu_reloader_free(r);
}

int main(void)
{
    if (!mkdtemp(dir) || pipe(reports) < 0)
        return 1;
    engine(CU_RELOAD_INOTIFY, "inotify");
    engine(CU_RELOAD_POLL, "poll");
    {
        const char *names[] = {"a.py", "b.txt", "c.py", "d.py", ".a.py.swp",
                               ".b.txt.swp", NULL};
        for (int i = 0; names[i]; i++)
            unlink(path_of(names[i]));
        rmdir(dir);
    }
    return tap_done();
}
