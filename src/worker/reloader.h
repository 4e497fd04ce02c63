/*
 * --reload: a thread in the worker that watches files (the modules the app
 * imported, and reload_extra_files) and reports the first one that
 * changes. The worker then runs worker_int (src/host/reloader.c) and stops
 * the way TERM stops it: it finishes its requests and exits 0, and the
 * master forks a new one, which imports the code afresh (docs/compat.md,
 * Code reloading).
 *
 * Engines (Gunicorn's names): inotify watches the directories of the files
 * and looks only when the kernel says one of *them* was written, renamed
 * onto or touched; poll stats every file once a second. auto is inotify
 * where the kernel has it. Either way a file counts as changed when its
 * mtime, size or inode differ from what was seen first, so a chmod, a
 * write that leaves a file as it was, or an editor's swap file in the same
 * directory restart nothing. A file that disappears restarts nothing
 * either (until it is back: a new worker could not import it meanwhile).
 * Files that cannot be watched with inotify (no directory yet, out of
 * watches) are polled.
 *
 * Plain C: the list of files comes from a callback, which takes the GIL
 * itself; it is asked again every second, for modules imported since.
 */
#ifndef CU_WORKER_RELOADER_H
#define CU_WORKER_RELOADER_H

#include <stddef.h>

enum cu_reload_engine { CU_RELOAD_AUTO, CU_RELOAD_INOTIFY, CU_RELOAD_POLL };

struct cu_reloader_ops {
    /* The files to watch now. Returns 1 with *paths (malloc'd strings in
     * a malloc'd array, both taken over) and *n, 0 when there is nothing
     * new, -1 on failure (logged: the reloader goes on with what it has).
     * Called from the reloader's thread about once a second. */
    int (*list)(void *arg, char ***paths, size_t *n);
    /* path changed: called once, from the reloader's thread, which then
     * ends. */
    void (*changed)(void *arg, const char *path);
    void *arg;
};

struct cu_reloader;


/* NULL when out of memory. Nothing runs until cu_reloader_start. */
struct cu_reloader *cu_reloader_new(enum cu_reload_engine engine,
                                    const struct cu_reloader_ops *ops);
/* Watches paths[0..n) too, from now on (taken over, as from ops->list);
 * before cu_reloader_start, or from ops->list's caller. 0 or -1 (ENOMEM). */
int cu_reloader_add(struct cu_reloader *r, char **paths, size_t n);
/* Starts the thread, with every signal blocked in it. 0 or -1 (logged). */
int cu_reloader_start(struct cu_reloader *r);
/* Stops the thread (if it runs) and frees everything. A worker never
 * needs it: it exits under the thread. */
void cu_reloader_free(struct cu_reloader *r);

#endif
