/*
 * Benchmark of the request head parser (src/http/parser.h): heads parsed
 * per second on one core, for three heads built here, each beside the
 * throughput of a plain memchr() scan for '\n' over the same bytes, which
 * is the ceiling any line-oriented parser can hope to reach.
 *
 * Usage: bench_parser [seconds]   (per measurement; default 1)
 *        BENCH_CPU=N bench_parser  pins the process to CPU N (empty: 0)
 *
 * Each figure is the best of 3 runs, each run a series of batches that lasts
 * at least the given time on CLOCK_MONOTONIC, after a warm-up.
 */
#include "http/parser.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RUNS 3
#define C_HEAD_BYTES 4096

/* Every result lands here, so the compiler cannot drop the work. */
static volatile uint64_t sink;

struct input {
    const char *name;
    char *buf;  /* the parser takes char *: it writes only for casefold/fold */
    size_t len;
    uint32_t n_headers;  /* what a correct parse finds */
    struct http_config cfg;
    struct http_header *headers;
};

typedef uint64_t (*kernel_fn)(const struct input *in, uint64_t iters);

/* Tells the compiler buf may have changed: no hoisting work out of a loop. */
static inline void clobber(const void *buf)
{
    __asm__ volatile("" : : "r"(buf) : "memory");
}

static uint64_t parse_batch(const struct input *in, uint64_t iters)
{
    struct http_parser p;
    struct http_request r;
    uint64_t acc = 0;

    for (uint64_t i = 0; i < iters; i++) {
        http_parser_init(&p, &in->cfg, 1);
        http_request_init(&r, in->headers, in->cfg.limit_request_fields);
        acc += (uint64_t)http_parse_head(&p, &r, in->buf, in->len);
        clobber(in->buf);
    }
    return acc;
}

static uint64_t memchr_batch(const struct input *in, uint64_t iters)
{
    uint64_t acc = 0;

    for (uint64_t i = 0; i < iters; i++) {
        const char *s = in->buf, *end = in->buf + in->len, *nl;
        while ((nl = memchr(s, '\n', (size_t)(end - s))) != NULL) {
            acc++;
            s = nl + 1;
        }
        clobber(in->buf);
    }
    return acc;
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Runs batches for at least secs; returns iterations per second. */
static double run_for(kernel_fn k, const struct input *in, double secs)
{
    uint64_t batch = 64, done = 0;
    double t0 = now(), t = 0, last = t0;

    while (t < secs) {
        double tn;
        sink += k(in, batch);
        done += batch;
        tn = now();
        if (tn - last < 1e-3)  /* grow until a batch is >= 1 ms */
            batch *= 2;
        last = tn;
        t = tn - t0;
    }
    return (double)done / t;
}

static double best_of(kernel_fn k, const struct input *in, double secs)
{
    double best = 0;

    run_for(k, in, secs / 4 > 0.05 ? secs / 4 : 0.05);  /* warm-up */
    for (int i = 0; i < RUNS; i++) {
        double rate = run_for(k, in, secs);
        if (rate > best)
            best = rate;
    }
    return best;
}

static void input_init(struct input *in, const char *name, const char *head,
                       size_t len, uint32_t n_headers)
{
    struct http_parser p;
    struct http_request r;
    int64_t rc;

    in->name = name;
    in->len = len;
    in->n_headers = n_headers;
    http_config_init(&in->cfg);
    in->buf = malloc(len);
    in->headers = calloc(in->cfg.limit_request_fields, sizeof(*in->headers));
    /* The messages to stderr go out with (void): if they fail too, exiting
     * with a failure status is all there is left to do. */
    if (!in->buf || !in->headers) {
        (void)fprintf(stderr, "bench_parser: out of memory\n");
        exit(1);
    }
    memcpy(in->buf, head, len);

    http_parser_init(&p, &in->cfg, 1);
    http_request_init(&r, in->headers, in->cfg.limit_request_fields);
    rc = http_parse_head(&p, &r, in->buf, in->len);
    if (rc != (int64_t)len || r.n_headers != n_headers) {
        (void)fprintf(stderr, "bench_parser: %s: parse returned %lld (%s), "
                      "%u headers; expected %zu, %u headers\n", name,
                      (long long)rc,
                      rc < 0 ? http_error_info((int)rc)->name : "ok",
                      (unsigned)r.n_headers, len, (unsigned)n_headers);
        exit(1);
    }
}

/* (c): a few headers, then two Cookie headers filling the head to 4 KiB. */
static size_t build_big(char *out, size_t cap)
{
    static const char *const pre =
        "GET /dashboard/reports?range=30d HTTP/1.1\r\n"
        "Host: app.example.com\r\n"
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) "
        "Gecko/20100101 Firefox/128.0\r\n"
        "Accept: */*\r\n"
        "Connection: keep-alive\r\n";
    static const char alpha[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.";
    size_t n = (size_t)snprintf(out, cap, "%s", pre);
    size_t left = C_HEAD_BYTES - n - 2;  /* for the two Cookie lines */
    uint32_t seed = 12345;

    for (int line = 0; line < 2; line++) {
        size_t stop = n + (line ? left - left / 2 : left / 2) - 2;
        n += (size_t)snprintf(out + n, cap - n, "Cookie: ");
        for (int k = 0; n < stop; k++) {
            n += (size_t)snprintf(out + n, cap - n, "%sc%d%02d=", k ? "; " : "",
                                  line, k);
            for (int j = 0; j < 40 && n < stop; j++) {
                seed = seed * 1103515245u + 12345u;
                out[n++] = alpha[(seed >> 16) & 63];
            }
        }
        n = stop;  /* a pair may have run past stop: cut its value */
        n += (size_t)snprintf(out + n, cap - n, "\r\n");
    }
    n += (size_t)snprintf(out + n, cap - n, "\r\n");
    return n;
}

static void pin_cpu(void)
{
    const char *env = getenv("BENCH_CPU");
    cpu_set_t set;
    int cpu;

    if (!env)
        return;
    cpu = *env ? atoi(env) : 0;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set) != 0) {
        (void)fprintf(stderr, "bench_parser: sched_setaffinity(CPU %d): %s\n",
                      cpu, strerror(errno));
        exit(1);
    }
    printf("pinned to CPU %d\n", cpu);
}

int main(int argc, char **argv)
{
    static const char tiny[] =
        "GET / HTTP/1.1\r\nHost: localhost:8000\r\n\r\n";
    static const char browser[] =
        "GET /blog/http-parsing?page=2 HTTP/1.1\r\n"
        "Host: example.com\r\n"
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) "
        "Gecko/20100101 Firefox/128.0\r\n"
        "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,"
        "*/*;q=0.8\r\n"
        "Accept-Language: en-US,en;q=0.5\r\n"
        "Accept-Encoding: gzip, deflate, br, zstd\r\n"
        "Connection: keep-alive\r\n"
        "Referer: https://example.com/blog/\r\n"
        "Cookie: sessionid=8f3a2c71d9e04b6a; theme=dark\r\n"
        "Upgrade-Insecure-Requests: 1\r\n"
        "Sec-Fetch-Dest: document\r\n"
        "Sec-Fetch-Mode: navigate\r\n"
        "Sec-Fetch-Site: same-origin\r\n"
        "\r\n";
    static char big[C_HEAD_BYTES + 256];
    struct input in[3];
    double secs = 1.0;

    if (argc > 2 || (argc == 2 && ((secs = strtod(argv[1], NULL)) <= 0 ||
                                   secs > 3600))) {
        (void)fprintf(stderr, "usage: bench_parser [seconds per measurement]\n");
        return 2;
    }
    pin_cpu();
    input_init(&in[0], "(a) minimal", tiny, sizeof(tiny) - 1, 1);
    input_init(&in[1], "(b) browser", browser, sizeof(browser) - 1, 12);
    input_init(&in[2], "(c) big cookies", big, build_big(big, sizeof(big)), 6);

    printf("%-16s %6s %11s %12s %12s %7s\n", "input", "bytes", "M heads/s",
           "parser GB/s", "memchr GB/s", "ratio");
    for (int i = 0; i < 3; i++) {
        double heads = best_of(parse_batch, &in[i], secs);
        double scans = best_of(memchr_batch, &in[i], secs);
        double pgb = heads * (double)in[i].len / 1e9;
        double mgb = scans * (double)in[i].len / 1e9;
        printf("%-16s %6zu %11.3f %12.3f %12.3f %7.3f\n", in[i].name,
               in[i].len, heads / 1e6, pgb, mgb, pgb / mgb);
        if (fflush(stdout) != 0) {  /* a result that was not shown */
            perror("bench_parser: stdout");
            return 1;
        }
        free(in[i].buf);
        free(in[i].headers);
    }
    printf("(b) goal: >= 2.00 M heads/s on one core\n");
    return 0;
}
