/*
 * Process titles, as ps and top show them: "cunicorn: master [NAME]",
 * "cunicorn: worker [NAME]", with a state such as " (stopping)" after.
 *
 * Linux has no call for it: a process's command line is the memory its
 * argv strings were given in, and ps reads that through /proc/PID/cmdline.
 * So the title is written over that memory (the way setproctitle and
 * PostgreSQL do), found through /proc/self/stat rather than main()'s argv,
 * which belongs to the interpreter; when the title is longer, it runs on
 * over the environment strings, which are first copied elsewhere. The
 * thread name (comm: top, pgrep, the kernel's messages) becomes
 * "cunicorn <role>".
 *
 * Plain C. cu_proctitle_init() once, before any fork and any thread;
 * cu_proctitle_set() from one thread; cu_proctitle_state() may be called
 * from a signal handler.
 */
#ifndef CU_CORE_PROCTITLE_H
#define CU_CORE_PROCTITLE_H

/* Finds the argv area and moves the environment strings out of the way.
 * 0, or -1 when there is no area to use (no /proc): titles then only
 * rename the thread. */
int cu_proctitle_init(void);

/* "cunicorn: <role> [<name>]" and comm "cunicorn <role>"; clears any
 * state. The title is cut to the space there is. */
void cu_proctitle_set(const char *role, const char *name);

/* Appends " (<state>)" to the title set last, or removes it (NULL).
 * Async-signal-safe: copies bytes, nothing else. */
void cu_proctitle_state(const char *state);

#endif
