/*
 * The response on the wire (PEP 3333): the head (status line, Server,
 * Date, Connection, Transfer-Encoding when chunking, then the app's
 * headers) written with the first body bytes in one writev; body items
 * written from the app's own buffers with the GIL dropped for the write
 * (a small one that the socket takes at once keeps it: cu_resp_send_iov);
 * a wsgi.file_wrapper over a real file by sendfile(2); and the answers
 * when the app failed before its head went out.
 */
#include "wsgi/internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "http/pages.h"

#define SERVER_MAX 1024  /* a Server header's value (cunicorn._configfile) */

/* "\r\nServer: S\r\nDate: ...\r\nConnection: X\r\n" for X =
 * keep-alive, close, upgrade; rebuilt when the second changes. Only used
 * with the GIL held. */
struct fixed {
    time_t at;
    char text[3][SERVER_MAX + 128];
    size_t len[3];
};

static struct fixed fixed;
static char server[SERVER_MAX + 1] = "cunicorn";

void cu_resp_set_server(const char *name)
{
    size_t n = name ? strlen(name) : 0;

    if (!name || n > SERVER_MAX)
        name = "cunicorn";  /* not reached for a long one: the loader refuses it */
    memcpy(server, name, strlen(name) + 1);
    fixed.at = 0;  /* rebuilt with it */
}

static const struct fixed *fixed_head(void)
{
    static const char *const conn[3] = {"keep-alive", "close", "upgrade"};
    struct fixed *f = &fixed;
    time_t now = time(NULL);

    if (now != f->at) {
        char date[HTTP_DATE_LEN + 1];  /* http/pages.h: no locale in it */

        http_date((long long)now, date);
        for (int i = 0; i < 3; i++) {
            int n = snprintf(f->text[i], sizeof(f->text[i]),
                             "\r\nServer: %s\r\nDate: %s\r\nConnection: %s\r\n",
                             server, date, conn[i]);
            f->len[i] = n > 0 ? (size_t)n : 0;
        }
        f->at = now;
    }
    return f;
}

const char *cu_resp_fixed_head(int conn, size_t *len)
{
    const struct fixed *f = fixed_head();

    *len = f->len[conn];
    return f->text[conn];
}

/* After a write done without the GIL: a failure marks the response. */
static int io_done(struct resp *p, int rc, int err)
{
    if (rc < 0) {
        p->failed = 1;
        errno = err;
        PyErr_SetFromErrno(PyExc_OSError);
    }
    return rc;
}

/* Writes iov: a small write that goes at once keeps the GIL, the rest
 * waits with the GIL dropped. */
int cu_resp_send_iov(struct resp *p, struct iovec *iov, int n)
{
    int rc, err;

    if (cu_conn_writev_now(p->c, &iov, &n))
        return 0;
    Py_BEGIN_ALLOW_THREADS
    rc = cu_conn_writev(p->c, iov, n);
    err = errno;
    Py_END_ALLOW_THREADS
    return io_done(p, rc, err);
}

int cu_resp_send_interim(struct resp *p, struct iovec *iov, int n)
{
    int rc = cu_resp_send_iov(p, iov, n);

    if (rc == 0)
        atomic_store(&p->c->final_from, p->c->wrote);
    return rc;
}

/* The request's body is all here, read or in the buffer. Else the
 * client may wait for this response before it sends the rest (Expect:
 * 100-continue, whose 100 no longer goes once the response has begun),
 * while the app reads it after its last write: held, neither would go on. */
static int body_in_hand(const struct resp *p)
{
    const struct cu_body *b = p->q->body;

    return b->done || (b->kind == HTTP_BODY_LENGTH && p->c->end - p->c->start >= b->left);
}

/* The write that ends the response: held for the worker's poller when
 * the connection allows it, else written. Never a 101's head: the app
 * speaks the new protocol on gunicorn.socket next, in close() maybe. */
static int hold_or_send(struct resp *p, struct iovec *iov, int n)
{
    int rc = p->c->may_hold && p->status >= 200 && body_in_hand(p) ? cu_conn_hold(p->c, iov, n)
                                                                   : 0;

    if (rc > 0)
        return 0;
    if (rc < 0) {
        PyErr_NoMemory();
        return -1;
    }
    return cu_resp_send_iov(p, iov, n);
}

/* Sends data (maybe empty), with the head first if it has not gone yet;
 * ends: nothing of the response follows (then it may be held). */
static int send_data(struct resp *p, const char *data, size_t n, int ends)
{
    struct iovec iov[10];
    char size[32], line[32], head[sizeof(fixed.text[0])];
    int k = 0, len;

    if (p->no_body)
        n = 0;
    if (p->length >= 0 && (uint64_t)p->length - p->sent < n)
        n = (size_t)((uint64_t)p->length - p->sent);  /* truncate (compat.md, Responses) */
    if (!p->headers_sent) {
        /* every response: the fixed part is built once a second (the
         * date), not formatted each time */
        const struct fixed *f = fixed_head();
        int conn = p->upgrade ? 2 : p->must_close ? 1 : 0;
        if (p->r->major == 1 && p->r->minor <= 1) {
            iov[k].iov_base = (void *)(uintptr_t)(p->r->minor ? "HTTP/1.1 " : "HTTP/1.0 ");
            iov[k++].iov_len = 9;
        } else {
            len = snprintf(line, sizeof(line), "HTTP/%u.%u ", p->r->major, p->r->minor);
            iov[k].iov_base = line;
            iov[k++].iov_len = (size_t)len;
        }
        iov[k].iov_base = p->block;
        iov[k++].iov_len = p->status_len;
        /* a copy: the write runs without the GIL, while another thread
         * may rebuild f */
        memcpy(head, f->text[conn], f->len[conn]);
        iov[k].iov_base = head;
        iov[k++].iov_len = f->len[conn];
        if (p->chunked) {
            iov[k].iov_base = (void *)"Transfer-Encoding: chunked\r\n";
            iov[k++].iov_len = 28;
        }
        iov[k].iov_base = p->block + p->status_len;
        iov[k++].iov_len = p->blen - p->status_len;
        iov[k].iov_base = (void *)"\r\n";
        iov[k++].iov_len = 2;
        p->headers_sent = 1;
    }
    if (n && p->chunked) {
        len = snprintf(size, sizeof(size), "%zx\r\n", n);
        iov[k].iov_base = size;
        iov[k++].iov_len = (size_t)len;
    }
    if (n) {
        iov[k].iov_base = (void *)(uintptr_t)data;
        iov[k++].iov_len = n;
        if (p->chunked) {
            iov[k].iov_base = (void *)"\r\n";
            iov[k++].iov_len = 2;
        }
    }
    p->sent += n;
    if (!k)
        return 0;
    /* the last bytes of a Content-Length: nothing follows them either */
    if (!p->chunked && !p->no_body && p->length >= 0 && p->sent == (uint64_t)p->length)
        ends = 1;
    return ends && p->may_hold ? hold_or_send(p, iov, k) : cu_resp_send_iov(p, iov, k);
}

int cu_resp_send_data(struct resp *p, const char *data, size_t n)
{
    return send_data(p, data, n, 0);
}

/*
 * A body shorter than the Content-Length the app gave: the client would
 * wait for the rest, or read the next response as it. The connection is
 * closed after it (RFC 9112 §6.3, docs/compat.md, Framing), and that is
 * logged.
 */
static void short_body(struct resp *p)
{
    if (p->no_body || p->chunked || p->length < 0 || p->sent >= (uint64_t)p->length)
        return;
    p->must_close = 1;
    cu_log(CU_WARNING, "Response shorter than its Content-Length (%llu of %lld bytes): "
           "connection closed", (unsigned long long)p->sent, (long long)p->length);
}

int cu_resp_finish(struct resp *p)
{
    struct iovec iov = {(void *)"0\r\n\r\n", 5};

    /* the iteration is over: the head alone is all, but for chunked's end */
    if (!p->headers_sent && send_data(p, NULL, 0, !p->chunked) < 0)
        return -1;
    short_body(p);
    if (p->chunked)
        return p->may_hold ? hold_or_send(p, &iov, 1) : cu_resp_send_iov(p, &iov, 1);
    return 0;
}

/*
 * A wsgi.file_wrapper over a real file goes out with sendfile(2)
 * (docs/compat.md, Responses): from the file's offset, Content-Length bytes or
 * to the end, as one chunk when chunked; the offset is restored. Returns 1
 * when it does not apply (iterate instead), 0 when sent, -1 on error.
 */
int cu_resp_send_file(struct resp *p, PyObject *result)
{
    struct cu_file_wrapper *fw = (struct cu_file_wrapper *)result;
    PyObject *no = fw->filelike ? PyObject_CallMethod(fw->filelike, "fileno", NULL) : NULL;
    struct stat st;
    off_t off;
    size_t n;
    int fd, rc, err;

    if (!no) {
        PyErr_Clear();
        return 1;
    }
    fd = (int)PyLong_AsLong(no);
    Py_DECREF(no);
    if (fd < 0 || PyErr_Occurred() || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
        (off = lseek(fd, 0, SEEK_CUR)) < 0 || !p->headers_set) {
        PyErr_Clear();
        return 1;
    }
    /* data the file object has buffered ahead would be skipped */
    n = st.st_size > off ? (size_t)(st.st_size - off) : 0;
    if (p->length >= 0 && (uint64_t)p->length - p->sent < n)
        n = (size_t)((uint64_t)p->length - p->sent);
    if (p->no_body)
        n = 0;
    cu_conn_whole(p->c);  /* the file is the rest of the response */
    if (cu_resp_send_data(p, NULL, 0) < 0)  /* the head */
        return -1;
    if (n) {
        char size[32];
        struct iovec iov = {size, 0};
        if (p->chunked) {
            iov.iov_len = (size_t)snprintf(size, sizeof(size), "%zx\r\n", n);
            if (cu_resp_send_iov(p, &iov, 1) < 0)
                return -1;
        }
        Py_BEGIN_ALLOW_THREADS
        rc = cu_conn_sendfile(p->c, fd, off, n);
        err = errno;
        Py_END_ALLOW_THREADS
        if (io_done(p, rc, err) < 0)
            return -1;
        p->sent += n;
        if (p->chunked) {
            iov.iov_base = (void *)"\r\n";
            iov.iov_len = 2;
            if (cu_resp_send_iov(p, &iov, 1) < 0)
                return -1;
        }
    }
    return cu_resp_finish(p);
}

/* ---- the error answers ---------------------------------------------------- */

/* Sends an error page (http/pages.h: iov[0..n), len bytes; len 0 when
 * it could not be built) as the whole response. */
static int send_page(struct resp *p, int status, struct iovec *iov, int n, size_t len)
{
    if (len == 0) {  /* not reached: the pages' statuses and reasons fit */
        PyErr_Format(PyExc_SystemError, "no %d page", status);
        return -1;
    }
    p->status = status;
    p->headers_sent = 1;
    /* RFC 9110 §9.3.2: the answer to HEAD has no content. The page's
     * head is its first piece, or the part before the blank line. */
    if (p->head && n == 1) {
        const char *end = memmem(iov[0].iov_base, iov[0].iov_len, "\r\n\r\n", 4);
        if (end)
            iov[0].iov_len = (size_t)(end - (const char *)iov[0].iov_base) + 4;
    } else if (p->head) {
        n = HTTP_PAGE_IOV_HEAD;
    }
    return cu_resp_send_iov(p, iov, n);
}

/* The 500 answer when the app fails before its headers went out. */
static int send_500(struct resp *p)
{
    char head[HTTP_PAGE_HEAD];
    struct iovec iov[HTTP_PAGE_IOV];
    size_t len = http_page_iov(iov, head, 500, "Internal Server Error", NULL, 0);

    return send_page(p, 500, iov, HTTP_PAGE_IOV, len);
}

/* --request-timeout, when the app was stopped before its head went out:
 * the worker's 504 page. */
static int send_504(struct resp *p)
{
    char page[HTTP_PAGE_MAX];
    struct iovec iov = {page, 0};

    iov.iov_len = cu_page_504(page, sizeof(page));
    return send_page(p, 504, &iov, 1, iov.iov_len);
}

/* The answer when the response failed before its head went out: the
 * body error's page (none when the peer is gone), 504 after
 * --request-timeout, else 500 (a bad status or header from the app too:
 * docs/compat.md, Framing). */
void cu_resp_answer_error(struct resp *p, struct cu_body *b)
{
    if (b->error && !p->headers_sent && !p->failed) {
        /* the body was bad: its 400 (none for a peer gone), never a 500 */
        const struct http_error_info *e = http_error_info(b->error);
        int rc;
        p->status = e->respond ? e->status : 0;
        p->headers_sent = 1;
        Py_BEGIN_ALLOW_THREADS
        rc = cu_conn_send_error_to(p->c, b->error, p->head);
        Py_END_ALLOW_THREADS
        if (rc < 0)
            p->failed = 1;
    }
    if (!p->headers_sent && !p->failed &&
        (p->timed_out ? send_504(p) : send_500(p)) < 0)
        PyErr_Clear();  /* the client is gone */
    p->must_close = 1;
}
