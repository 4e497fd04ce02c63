/*
 * USR2, the binary upgrade (docs/compat.md, Binary upgrade and inherited
 * sockets): the old master forks, and the child execs the same command line in
 * the environment and the directory the server was started with, plus
 * GUNICORN_PID (the old master) and the listeners: GUNICORN_FD=3,5 (their fds,
 * made inheritable in the child only) or, when they came from systemd,
 * LISTEN_FDS and LISTEN_PID. Both masters' workers then accept on the same
 * sockets until the operator retires one of them.
 *
 * Plain C. The fork is the master's (it owns the signals); this file
 * captures what the exec needs, builds the child's environment before the
 * fork, and runs the child's side of it with async-signal-safe calls only.
 */
#ifndef CU_MASTER_UPGRADE_H
#define CU_MASTER_UPGRADE_H

#include <stddef.h>
#include <sys/types.h>

struct cu_listener;

struct cu_upgrade {
    /* Captured at start by cu_upgrade_capture(). */
    char **argv;            /* argv[0] is the program; NULL: USR2 refused */
    char **envp;            /* the environment at start */
    char *cwd;              /* the directory at start */
    /* The listeners to hand over, read at USR2 time (the caller may
     * replace the array, e.g. when HUP rebinds). */
    struct cu_listener *const *listeners;
    const size_t *n_listeners;
    size_t n_systemd;       /* the first n_systemd came from systemd */
    /* Kept by the master (parent first read by cu_upgrade_capture). */
    pid_t parent;           /* GUNICORN_PID: the old master, until promoted */
    pid_t child;            /* the new master this one started, 0: none */
};

/*
 * Copies the command line (head[0..nhead-1], then argv[0..argc-1]; head[0]
 * is the program, e.g. sys.executable, "-m", "cunicorn"), the environment
 * as it is now and the working directory ($PWD when it names the same
 * directory, so a symlinked release directory is followed again, as
 * Gunicorn does). Sets parent from GUNICORN_PID. A NULL or empty head[0]
 * leaves argv NULL: USR2 is then refused with a message. 0, or -1 with a
 * message in err.
 */
int cu_upgrade_capture(struct cu_upgrade *u, const char *const *head, int nhead,
                       int argc, char *const *argv, char *err, size_t errlen);

/* Frees what cu_upgrade_capture copied. Safe on a zeroed struct. */
void cu_upgrade_release(struct cu_upgrade *u);

/* The new master's exec, prepared before the fork. */
struct cu_upgrade_exec {
    char **envp;            /* the captured environment, edited */
    char *own[3];           /* the variables added: GUNICORN_PID=, ... */
    char *listen_pid;       /* "LISTEN_PID=" + room, filled in the child */
    int *fds;               /* the listeners, made inheritable in the child */
    size_t nfds;
};

/* Builds the child's environment: the captured one without GUNICORN_PID,
 * GUNICORN_FD, LISTEN_PID, LISTEN_FDS (and LISTEN_FDNAMES unless handing
 * over systemd's sockets), plus GUNICORN_PID=<this pid> and GUNICORN_FD or
 * LISTEN_FDS + LISTEN_PID. 0, or -1 with a message in err. */
int cu_upgrade_prepare(struct cu_upgrade_exec *x, const struct cu_upgrade *u,
                       char *err, size_t errlen);

void cu_upgrade_discard(struct cu_upgrade_exec *x);

/* What the child's side reports on report_fd when it fails. */
enum cu_upgrade_step { CU_UPGRADE_FCNTL = 1, CU_UPGRADE_CHDIR, CU_UPGRADE_EXEC };

struct cu_upgrade_report {
    int step;               /* enum cu_upgrade_step */
    int err;                /* errno */
};

/* In the forked child: makes the listeners inheritable, fills LISTEN_PID,
 * changes to the captured directory and execs. Returns only by _exit(127)
 * after writing a cu_upgrade_report to report_fd (a close-on-exec pipe, so
 * the parent reads end-of-file when the exec succeeded). */
__attribute__((noreturn))
void cu_upgrade_child(const struct cu_upgrade_exec *x,
                      const struct cu_upgrade *u, int report_fd);

#endif
