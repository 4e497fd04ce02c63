/*
 * Tests of src/master/upgrade.c: what USR2's new master is started with.
 *
 * The environment is built and checked as data; the child's side runs in
 * a forked process that execs /bin/sh, which reports its environment, its
 * directory and which listener fds it inherited on a pipe. Failures (a
 * missing program, a missing directory) come back as reports.
 */
#include "master/upgrade.h"
#include "net/listen.h"
#include "../lib/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define ERRLEN 256

static int has_entry(char *const *envp, const char *entry)
{
    for (; *envp != NULL; envp++)
        if (strcmp(*envp, entry) == 0)
            return 1;
    return 0;
}

/* The value of name in envp, or NULL. */
static const char *entry_value(char *const *envp, const char *name)
{
    size_t n = strlen(name);

    for (; *envp != NULL; envp++)
        if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
            return *envp + n + 1;
    return NULL;
}

static void set_env(void)
{
    setenv("CU_KEEP", "kept", 1);
    setenv("GUNICORN_PID", "4242", 1);
    setenv("GUNICORN_FD", "9,10", 1);
    setenv("LISTEN_PID", "1", 1);
    setenv("LISTEN_FDS", "7", 1);
    setenv("LISTEN_FDNAMES", "web", 1);
}

static void test_capture(void)
{
    const char *head[] = {"/bin/sh", "-c", "exit 0"};
    char *args[] = {"a", "b c"};
    struct cu_upgrade u = {0};
    char err[ERRLEN] = "", *cwd = getcwd(NULL, 0);

    set_env();
    ok(cu_upgrade_capture(&u, head, 3, 2, args, err, sizeof(err)) == 0, "capture (%s)", err);
    ok(u.argv && strcmp(u.argv[0], "/bin/sh") == 0 && strcmp(u.argv[2], "exit 0") == 0 &&
       strcmp(u.argv[4], "b c") == 0 && u.argv[5] == NULL, "capture: head, then the arguments");
    ok(u.envp && has_entry(u.envp, "CU_KEEP=kept"), "capture: the environment of now");
    ok(u.parent == 4242, "capture: GUNICORN_PID is the parent (%d)", (int)u.parent);
    ok(cwd && u.cwd && strcmp(u.cwd, cwd) == 0, "capture: the directory (%s)", u.cwd);
    setenv("CU_KEEP", "changed later", 1);
    ok(has_entry(u.envp, "CU_KEEP=kept"), "capture: a copy, not the live environment");
    cu_upgrade_release(&u);
    cu_upgrade_release(&u);
    ok(u.argv == NULL && u.envp == NULL && u.cwd == NULL, "release twice is safe");

    setenv("GUNICORN_PID", "12x", 1);
    head[0] = "";
    ok(cu_upgrade_capture(&u, head, 3, 0, args, err, sizeof(err)) == 0 && u.argv == NULL &&
       u.parent == 0, "capture: no program (USR2 refused), a bad GUNICORN_PID ignored");
    cu_upgrade_release(&u);
    unsetenv("GUNICORN_PID");
    free(cwd);
}

static void test_pwd_symlink(void)
{
    const char *head[] = {"/bin/sh"};
    char dir[] = "/tmp/cu-upgrade-XXXXXX", real[64], link[64], *old = getcwd(NULL, 0);
    struct cu_upgrade u = {0};
    char err[ERRLEN];
    int rc;

    if (!ok(mkdtemp(dir) != NULL && old != NULL, "pwd: a temp dir"))
        return;
    (void)snprintf(real, sizeof(real), "%s/release-1", dir);
    (void)snprintf(link, sizeof(link), "%s/current", dir);
    if (ok(mkdir(real, 0700) == 0 && symlink(real, link) == 0 && chdir(link) == 0,
           "pwd: in %s, a symlink", link)) {
        setenv("PWD", link, 1);
        rc = cu_upgrade_capture(&u, head, 1, 0, NULL, err, sizeof(err));
        ok(rc == 0 && strcmp(u.cwd, link) == 0, "pwd: $PWD kept when it is '.' (%s)", u.cwd);
        cu_upgrade_release(&u);
        setenv("PWD", "/", 1);
        rc = cu_upgrade_capture(&u, head, 1, 0, NULL, err, sizeof(err));
        ok(rc == 0 && strcmp(u.cwd, real) == 0, "pwd: else getcwd() (%s)", u.cwd);
        cu_upgrade_release(&u);
    }
    ok(chdir(old) == 0, "pwd: back");
    unlink(link);
    rmdir(real);
    rmdir(dir);
    free(old);
}

/* Two listeners on 127.0.0.1 (CLOEXEC, as cu_listen makes them). */
static int two_listeners(struct cu_listener *l)
{
    struct cu_addr a;
    char err[ERRLEN];

    for (int i = 0; i < 2; i++)
        if (cu_addr_parse("127.0.0.1:0", &a, err, sizeof(err)) < 0 ||
            cu_listen(&a, 8, 0, &l[i], err, sizeof(err)) < 0)
            return -1;
    return 0;
}

static void test_prepare(struct cu_listener *l)
{
    struct cu_listener *lp = l;
    size_t nl = 2;
    const char *head[] = {"/bin/sh"};
    struct cu_upgrade u = {0};
    struct cu_upgrade_exec x;
    char err[ERRLEN], want[64];

    set_env();
    if (!ok(cu_upgrade_capture(&u, head, 1, 0, NULL, err, sizeof(err)) == 0, "prepare: capture"))
        return;
    u.listeners = &lp;
    u.n_listeners = &nl;
    ok(cu_upgrade_prepare(&x, &u, err, sizeof(err)) == 0, "prepare: GUNICORN_FD (%s)", err);
    (void)snprintf(want, sizeof(want), "GUNICORN_PID=%d", (int)getpid());
    ok(has_entry(x.envp, want), "prepare: %s", want);
    (void)snprintf(want, sizeof(want), "GUNICORN_FD=%d,%d", l[0].fd, l[1].fd);
    ok(has_entry(x.envp, want), "prepare: %s", want);
    ok(!entry_value(x.envp, "LISTEN_PID") && !entry_value(x.envp, "LISTEN_FDS") &&
       !entry_value(x.envp, "LISTEN_FDNAMES") && has_entry(x.envp, "CU_KEEP=kept"),
       "prepare: systemd's variables dropped, the rest kept");
    ok(!has_entry(x.envp, "GUNICORN_FD=9,10") && !has_entry(x.envp, "GUNICORN_PID=4242"),
       "prepare: the start's own GUNICORN_* replaced");
    cu_upgrade_discard(&x);

    u.n_systemd = 2;
    ok(cu_upgrade_prepare(&x, &u, err, sizeof(err)) == 0, "prepare: LISTEN_FDS (%s)", err);
    ok(has_entry(x.envp, "LISTEN_FDS=2") && entry_value(x.envp, "LISTEN_PID") &&
       !entry_value(x.envp, "GUNICORN_FD") && has_entry(x.envp, "LISTEN_FDNAMES=web"),
       "prepare: LISTEN_FDS=2, LISTEN_PID to fill, the names kept, no GUNICORN_FD");
    cu_upgrade_discard(&x);
    cu_upgrade_release(&u);
    ok(cu_upgrade_prepare(&x, &u, err, sizeof(err)) == -1 && strstr(err, "sys.executable"),
       "prepare: no program: refused: %s", err);
}

/* Runs cu_upgrade_child in a fork; out gets what the exec'd program
 * printed, *rep its failure report (step 0 when it exec'd). Returns the
 * child's exit status, or -1. */
static int run_child(struct cu_upgrade *u, char *out, size_t outlen,
                     struct cu_upgrade_report *rep)
{
    struct cu_upgrade_exec x;
    int rpipe[2], opipe[2], status;
    char err[ERRLEN];
    size_t len = 0;
    ssize_t n;
    pid_t pid;

    memset(rep, 0, sizeof(*rep));
    if (cu_upgrade_prepare(&x, u, err, sizeof(err)) < 0 || pipe2(rpipe, O_CLOEXEC) < 0)
        return -1;
    if (pipe(opipe) < 0)
        return -1;
    pid = fork();
    if (pid == 0) {
        dup2(opipe[1], 1);
        cu_upgrade_child(&x, u, rpipe[1]);
    }
    close(rpipe[1]);
    close(opipe[1]);
    cu_upgrade_discard(&x);
    while (len + 1 < outlen && (n = read(opipe[0], out + len, outlen - 1 - len)) > 0)
        len += (size_t)n;
    out[len] = '\0';
    if (read(rpipe[0], rep, sizeof(*rep)) != (ssize_t)sizeof(*rep))
        memset(rep, 0, sizeof(*rep));
    close(rpipe[0]);
    close(opipe[0]);
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_child(struct cu_listener *l)
{
    struct cu_listener *lp = l;
    size_t nl = 2;
    char script[512], out[512], want[256];
    const char *head[] = {"/bin/sh", "-c", script};
    struct cu_upgrade u = {0};
    struct cu_upgrade_report rep;
    char err[ERRLEN];
    int rc;

    (void)snprintf(script, sizeof(script),
                   "echo \"$GUNICORN_PID|$GUNICORN_FD|$LISTEN_FDS|$LISTEN_PID|$$|$(pwd)\"; "
                   "for fd in %d %d; do [ -e /proc/$$/fd/$fd ] && echo \"open $fd\"; done; "
                   "exit 0", l[0].fd, l[1].fd);
    set_env();
    if (!ok(cu_upgrade_capture(&u, head, 3, 0, NULL, err, sizeof(err)) == 0, "child: capture"))
        return;
    u.listeners = &lp;
    u.n_listeners = &nl;
    free(u.cwd);
    u.cwd = strdup("/");
    rc = run_child(&u, out, sizeof(out), &rep);
    ok(rc == 0 && rep.step == 0, "child: exec'd /bin/sh");
    (void)snprintf(want, sizeof(want), "%d|%d,%d|||", (int)getpid(), l[0].fd, l[1].fd);
    ok(strncmp(out, want, strlen(want)) == 0, "child: env %s (got %.*s)", want,
       (int)strcspn(out, "\n"), out);
    ok(strstr(out, "|/\n") != NULL, "child: in the captured directory");
    (void)snprintf(want, sizeof(want), "open %d\nopen %d\n", l[0].fd, l[1].fd);
    ok(strstr(out, want) != NULL, "child: both listeners inherited");
    ok((fcntl(l[0].fd, F_GETFD) & FD_CLOEXEC) != 0, "child: still CLOEXEC in the parent");

    u.n_systemd = 2;
    ok(run_child(&u, out, sizeof(out), &rep) == 0, "child: systemd hand-over");
    {
        int shpid = -1, lpid = -2;

        /* "<pid>||2|<LISTEN_PID>|<$$>|/": LISTEN_PID is the exec'd pid */
        ok(sscanf(out, "%*[0-9]||2|%d|%d|", &lpid, &shpid) == 2 && lpid == shpid,
           "child: LISTEN_FDS=2 and LISTEN_PID is the new process (%.*s)",
           (int)strcspn(out, "\n"), out);
    }
    u.n_systemd = 0;

    free(u.cwd);
    u.cwd = strdup("/nonexistent-cunicorn-dir");
    rc = run_child(&u, out, sizeof(out), &rep);
    ok(rc == 127 && rep.step == CU_UPGRADE_CHDIR && rep.err == ENOENT,
       "child: a missing directory is reported (step %d)", rep.step);
    free(u.cwd);
    u.cwd = strdup("/");
    free(u.argv[0]);
    u.argv[0] = strdup("/nonexistent-cunicorn-program");
    rc = run_child(&u, out, sizeof(out), &rep);
    ok(rc == 127 && rep.step == CU_UPGRADE_EXEC && rep.err == ENOENT,
       "child: a missing program is reported (step %d)", rep.step);
    cu_upgrade_release(&u);
}

int main(void)
{
    struct cu_listener l[2];

    test_capture();
    test_pwd_symlink();
    memset(l, 0, sizeof(l));
    l[0].fd = l[1].fd = -1;
    if (ok(two_listeners(l) == 0, "two listeners")) {
        test_prepare(l);
        test_child(l);
    }
    cu_listener_close(&l[0], 0);
    cu_listener_close(&l[1], 0);
    return tap_done();
}
