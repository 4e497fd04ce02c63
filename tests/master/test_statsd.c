/*
 * The master's metrics, received on a real UDP socket on 127.0.0.1: the
 * gunicorn.workers gauge when the count changes (start, TTIN, TTOU) and
 * only then, gunicorn.backlog on every tick with enable_backlog_metric
 * (never without it, or when ops->backlog cannot tell), and the master's
 * own log lines counted (WORKER TIMEOUT: critical). harness.h has how a
 * case runs; the master it forks inherits the statsd socket opened here.
 */
#include "harness.h"
#include "core/statsd.h"
#include "../lib/tap.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int rx = -1;             /* the receiver */
static int backlog_value;       /* what ops->backlog says */

static int fake_backlog(void *ctx)
{
    (void)ctx;
    return backlog_value;
}

/* The lines received so far, one per datagram, appended to seen. */
static char seen[65536];

static void drain(int ms)
{
    int64_t until = mono_ms() + ms;

    for (;;) {
        struct pollfd p = {.fd = rx, .events = POLLIN};
        int64_t left = until - mono_ms();
        char buf[512];
        ssize_t n;

        if (poll(&p, 1, left > 0 ? (int)left : 0) != 1)
            return;
        n = recv(rx, buf, sizeof(buf) - 1, 0);
        if (n > 0 && strlen(seen) + (size_t)n + 2 < sizeof(seen)) {
            buf[n] = '\0';
            strcat(seen, buf);
            strcat(seen, "\n");
        }
    }
}

static int count(const char *line)
{
    char want[128];
    int n = 0;

    xsnprintf(want, sizeof(want), "%s\n", line);
    for (const char *p = strstr(seen, want); p != NULL; p = strstr(p + 1, want))
        n += p == seen || p[-1] == '\n';
    return n;
}

/* Up to ms for line to have come n times. */
static int wait_line(struct run *r, const char *line, int n, int ms)
{
    int64_t until = mono_ms() + ms;

    while (count(line) < n && mono_ms() < until) {
        pump(r, 10);
        drain(50);
    }
    return count(line) >= n;
}

static void open_statsd(void)
{
    struct sockaddr_in in = {.sin_family = AF_INET};
    socklen_t len = sizeof(in);
    struct cu_statsd_config c;
    char host[64], err[256];

    in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    rx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (rx < 0 || bind(rx, (struct sockaddr *)&in, sizeof(in)) < 0 ||
        getsockname(rx, (struct sockaddr *)&in, &len) < 0)
        bail("a UDP receiver on 127.0.0.1");
    xsnprintf(host, sizeof(host), "127.0.0.1:%d", ntohs(in.sin_port));
    if (cu_statsd_config_make(&c, host, "", "", err, sizeof(err)) < 0 ||
        cu_statsd_open(&c, err, sizeof(err)) < 0)
        bail("statsd: %s", err);
    cu_statsd_config_free(&c);
}

static void test_workers_and_backlog(void)
{
    struct cu_master_ops ops = all_ops;
    struct run r;
    int got;

    ops.backlog = fake_backlog;
    backlog_value = 7;
    seen[0] = '\0';
    run_init(&r, W_NORMAL, 2);
    r.cfg.backlog_metric = 1;
    if (run_start(&r, &ops) < 0) {
        ok(0, "fork the master");
        return;
    }
    ok(wait_until(&r, 5000, c_alive_eq, 2) && wait_line(&r, "gunicorn.workers:2|g", 1, 3000),
       "2 workers: gunicorn.workers:2|g");
    got = wait_line(&r, "gunicorn.backlog:7|h", 3, 5000);
    ok(got, "gunicorn.backlog:7|h on every tick (%d so far)", count("gunicorn.backlog:7|h"));
    ok(count("gunicorn.workers:2|g") == 1, "the gauge only once while the count stays");
    kill(r.master, SIGTTIN);
    ok(wait_line(&r, "gunicorn.workers:3|g", 1, 5000), "TTIN: gunicorn.workers:3|g");
    kill(r.master, SIGTTOU);
    ok(wait_line(&r, "gunicorn.workers:2|g", 2, 5000), "TTOU: gunicorn.workers:2|g again");
    kill(r.master, SIGTERM);
    ok(wait_until(&r, 5000, c_done, 0) && exited_with(&r, 0), "TERM exits 0");
    drain(100);
    ok(count("gunicorn.workers:2|g") == 2 && count("gunicorn.workers:3|g") == 1,
       "one gauge per change, none on the way out");
    {
        FILE *f = fopen(r.log, "r");
        char line[512];
        int debug = 0;

        while (f != NULL && fgets(line, sizeof(line), f) != NULL)
            debug += strstr(line, "[DEBUG] socket backlog: 7") != NULL;
        if (f != NULL)
            (void)fclose(f);
        ok(debug >= 3, "each one logged at debug: 'socket backlog: 7' (%d)", debug);
    }
    run_end(&r);
}

/* Off, or nothing to tell: no backlog metric. */
static void test_no_backlog(int enabled, int value, const char *what)
{
    struct cu_master_ops ops = all_ops;
    struct run r;

    ops.backlog = fake_backlog;
    backlog_value = value;
    seen[0] = '\0';
    run_init(&r, W_NORMAL, 1);
    r.cfg.backlog_metric = enabled;
    if (run_start(&r, &ops) < 0) {
        ok(0, "%s: fork the master", what);
        return;
    }
    ok(wait_line(&r, "gunicorn.workers:1|g", 1, 5000), "%s: gunicorn.workers:1|g", what);
    pump(&r, 2500);
    drain(100);
    ok(strstr(seen, "gunicorn.backlog") == NULL, "%s: no gunicorn.backlog", what);
    kill(r.master, SIGTERM);
    ok(wait_until(&r, 5000, c_done, 0), "%s: TERM", what);
    run_end(&r);
}

/* The master's own lines are counted: a silent worker's WORKER TIMEOUT. */
static void test_master_log(void)
{
    struct run r;

    seen[0] = '\0';
    run_init(&r, W_STALL, 1);
    r.cfg.timeout = 1;
    r.cfg.graceful_timeout = 1;
    if (run_start(&r, &all_ops) < 0) {
        ok(0, "timeout: fork the master");
        return;
    }
    ok(wait_line(&r, "gunicorn.log.critical:1|c|@1.0", 1, 6000),
       "WORKER TIMEOUT: gunicorn.log.critical:1|c|@1.0 from the master");
    kill(r.master, SIGTERM);
    ok(wait_until(&r, 8000, c_done, 0), "timeout: TERM");
    run_end(&r);
}

int main(void)
{
    harness_init();
    open_statsd();
    test_workers_and_backlog();
    test_no_backlog(0, 7, "enable_backlog_metric off");
    test_no_backlog(1, -1, "no TCP listener");
    test_master_log();
    cu_statsd_close();
    close(rx);
    return tap_done();
}
