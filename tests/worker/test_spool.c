/*
 * Spooled request bodies (src/worker/spool.c): memory up to mem_max, then
 * a file in the upload directory that never has a name there; read back
 * byte for byte, in pieces of any size; the file closed when freed; a
 * directory that cannot take the file, or a file cut short under it, is
 * an error, not a crash or a short body.
 */
#include "worker/spool.h"
#include "http/http.h"
#include "../lib/tap.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/cu-spool-XXXXXX";

static void die(const char *what)
{
    (void)printf("Bail out! %s: %s\n", what, strerror(errno));
    exit(1);
}

/* Names in dir (but . and ..). */
static int entries(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    if (!d)
        die("opendir");
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

/* Reads s back, taking at most bite bytes a time. 1 when it is want. */
static int reads_back(struct cu_spool *s, const char *want, size_t n, size_t bite)
{
    size_t got = 0;

    for (int guard = 0; guard < 1000000; guard++) {
        const char *p;
        int64_t k = cu_spool_peek(s, &p);
        if (k == 0)
            return got == n;
        if (k == HTTP_AGAIN) {
            if (cu_spool_load(s) < 0)
                return 0;
            continue;
        }
        if (k < 0)
            return 0;
        if ((size_t)k > bite)
            k = (int64_t)bite;
        if (got + (size_t)k > n || memcmp(p, want + got, (size_t)k) != 0)
            return 0;
        got += (size_t)k;
        cu_spool_consume(s, (size_t)k);
    }
    return 0;
}

static void test_memory(void)
{
    struct cu_spool s;

    memset(&s, 0, sizeof(s));
    cu_spool_free(&s);
    cu_spool_free(&s);
    ok(s.mem == NULL && !s.has_file, "a zeroed spool is empty, and freed any number of times");
    cu_spool_init(&s, 100, dir);
    ok(cu_spool_add(&s, "hello ", 6) == 0 && cu_spool_add(&s, "world", 5) == 0 &&
       !s.has_file && s.size == 11 && entries() == 0, "within mem_max: memory only");
    ok(reads_back(&s, "hello world", 11, 3), "read back in pieces of 3");
    cu_spool_free(&s);
    cu_spool_init(&s, 100, dir);
    ok(cu_spool_peek(&s, &(const char *){NULL}) == 0, "an empty spool: 0 at once");
    cu_spool_free(&s);
}

static void test_file(void)
{
    size_t n = 300000;
    char *data = malloc(n);
    struct cu_spool s;
    int fd;

    if (!data)
        die("malloc");
    for (size_t i = 0; i < n; i++)
        data[i] = (char)(i * 7 + i / 251);
    cu_spool_init(&s, 1000, dir);
    for (size_t i = 0; i < n; i += 4099)
        if (cu_spool_add(&s, data + i, n - i < 4099 ? n - i : 4099) < 0)
            die("cu_spool_add");
    ok(s.has_file && s.mlen == 1000 && s.size == n, "past mem_max: 1000 bytes in memory, "
       "the rest in a file");
    ok(entries() == 0, "the file has no name in the directory (unlinked as it was made)");
    ok(reads_back(&s, data, n, 65536 + 17), "read back whole across memory and file");
    fd = s.fd;
    cu_spool_free(&s);
    ok(fcntl(fd, F_GETFD) < 0 && errno == EBADF, "freed: the file is closed");

    cu_spool_init(&s, 0, dir);
    ok(cu_spool_add(&s, data, n) == 0 && s.has_file && s.mlen == 0 &&
       reads_back(&s, data, n, 1 << 20), "mem_max 0: all in the file");
    cu_spool_free(&s);
    free(data);
}

static void test_bad_dir(void)
{
    struct cu_spool s;
    char missing[64];

    (void)snprintf(missing, sizeof(missing), "%s/missing", dir);
    cu_spool_init(&s, 4, missing);
    ok(cu_spool_add(&s, "1234", 4) == 0, "within mem_max the directory is not needed");
    ok(cu_spool_add(&s, "5", 1) < 0 && !s.has_file, "past it, a missing directory: -1");
    cu_spool_free(&s);
}

/* The file shorter than what went into it (truncated under us): the read
 * that finds nothing is an error (EIO), never the body's end. */
static void test_short_file(void)
{
    struct cu_spool s;
    const char *p;

    cu_spool_init(&s, 2, dir);
    ok(cu_spool_add(&s, "abcdef", 6) == 0 && s.has_file && ftruncate(s.fd, 0) == 0,
       "a spool of 6 bytes, its file's 4 truncated");
    ok(cu_spool_peek(&s, &p) == 2, "the memory part is handed out");
    cu_spool_consume(&s, 2);
    ok(cu_spool_peek(&s, &p) == HTTP_AGAIN, "then the file's part must be loaded");
    errno = 0;
    ok(cu_spool_load(&s) < 0 && errno == EIO, "a file with nothing left: -1, EIO");
    cu_spool_free(&s);
}

int main(void)
{
    if (!mkdtemp(dir))
        die("mkdtemp");
    test_memory();
    test_file();
    test_bad_dir();
    test_short_file();
    if (rmdir(dir) < 0)
        die("rmdir");
    return tap_done();
}
