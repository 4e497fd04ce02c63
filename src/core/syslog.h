/*
 * Syslog, as Gunicorn's --log-syslog sends it (docs/compat.md, Syslog),
 * written by C: each line of the error log, and of the access log unless
 * disable_redirect_access_to_syslog, also goes out as one syslog message
 *
 *   <PRI>gunicorn.NAME.error: [PID] MESSAGE\0
 *   <PRI>gunicorn.NAME.access: [PID] ACCESS LINE\0
 *
 * PRI is facility * 8 + the level's severity (debug 7, info 6, warning 4,
 * error 3, critical 2; access lines at info), NAME syslog_prefix or else
 * the process name with ':' as '.', the message the text the error log
 * writes after its "[stamp] [pid] [LEVEL] " (control bytes escaped as
 * there), each message over UDP (one datagram), TCP (a stream, the NUL
 * ending each message) or a UNIX socket (datagram, or stream when the
 * path is one or #stream says so).
 *
 * Ours (docs/compat.md, Where cunicorn differs, Syslog): nothing here
 * waits on the syslog server after cu_syslog_open: sends are
 * non-blocking. A datagram that cannot go now is dropped. A stream keeps
 * what it could not send yet (up to CU_SYSLOG_PENDING_MAX bytes of whole
 * messages; later messages are dropped while it is full) and sends it
 * before the next message; a connection that breaks is made again at most
 * once per retry_ms, the messages in between dropped.
 *
 * Processes (Ours): every process has a stream connection of its own (a
 * message never interleaves with another process's). A process forked
 * from the one that opened syslog makes its own on its first message (no
 * wait: what it sends before the connection is up waits in its pending
 * bytes); datagram sockets are shared, as each message is one datagram.
 *
 * Threads and signals: cu_syslog_open and cu_syslog_close are set-up
 * calls (no other thread logging). The senders may be called from any
 * thread. cu_syslog_signal is async-signal-safe: it sends to a datagram
 * socket only (a stream's messages need a lock) and never reconnects.
 * None of them changes errno. Plain C.
 */
#ifndef CU_CORE_SYSLOG_H
#define CU_CORE_SYSLOG_H

#include <stddef.h>

/* ---- the settings, as Gunicorn reads them ---------------------------- */

enum cu_syslog_transport { CU_SYSLOG_UDP = 1, CU_SYSLOG_TCP, CU_SYSLOG_UNIX };
/* A UNIX socket's type: #dgram, #stream, or neither (datagram first, then
 * stream, as Python's SysLogHandler tries them). */
enum cu_syslog_socktype { CU_SYSLOG_ANY = 0, CU_SYSLOG_DGRAM, CU_SYSLOG_STREAM };

#define CU_SYSLOG_HOST_MAX 256      /* a host name, with its NUL */
#define CU_SYSLOG_PATH_MAX 108      /* sun_path, with its NUL */
#define CU_SYSLOG_PORT 514          /* when syslog_addr names none */
#define CU_SYSLOG_NAME_MAX 1024     /* NAME in gunicorn.NAME.error */
/* A whole message (PRI, tag, pid, text, NUL) at most; a longer text is cut
 * and ends with "..." (a UDP datagram holds 65507 bytes). */
#define CU_SYSLOG_MSG_MAX 65000
#define CU_SYSLOG_PENDING_MAX ((size_t)2 * CU_SYSLOG_MSG_MAX)
#define CU_SYSLOG_RETRY_MS 1000     /* a broken connection: next try after */

/* syslog_addr, parsed (not resolved). */
struct cu_syslog_addr {
    enum cu_syslog_transport transport;
    enum cu_syslog_socktype socktype;   /* UNIX */
    char host[CU_SYSLOG_HOST_MAX];      /* UDP, TCP: lower-cased, no [ ] */
    int port;                           /* UDP, TCP */
    char path[CU_SYSLOG_PATH_MAX];      /* UNIX */
};

/*
 * syslog_addr as Gunicorn 26.1 reads it: unix://PATH[#dgram|#stream],
 * udp://HOST[:PORT] or tcp://HOST[:PORT] (HOST may be [IPV6]; no HOST is
 * localhost, no PORT 514). 0, or -1 with "Invalid value for syslog_addr:
 * 'TEXT' (why)" in err: another scheme, a port that is not digits (both
 * as Gunicorn), and, Ours, what Gunicorn takes but can never send to (a
 * port out of 1..65535, an empty host, an empty or too long path, a too
 * long host name).
 */
int cu_syslog_parse_addr(const char *text, struct cu_syslog_addr *a,
                         char *err, size_t errlen);
/* The code of a facility name, any case, as Gunicorn's table has them
 * (auth 4, ..., user 1, local0 16 .. local7 23); -1 for an unknown one. */
int cu_syslog_facility(const char *name);
/* The syslog severity of a level of core/log.h, as Python's SysLogHandler
 * maps level names (another level: warning, 4). */
int cu_syslog_severity(int level);

/* What a process sends, derived once from the settings (config/derive.c). */
struct cu_syslog_config {
    int on;                     /* syslog is set */
    int access;                 /* access lines too */
    int facility;
    int retry_ms;               /* CU_SYSLOG_RETRY_MS (tests set less) */
    struct cu_syslog_addr addr;
    char *tag;                  /* "gunicorn.NAME", control bytes as \xNN */
};

/*
 * Fills c from the settings: on is syslog (off: nothing else is read, as
 * Gunicorn reads them only then), name the process name (proc_name, else
 * default_proc_name), used with ':' as '.' when prefix (syslog_prefix) is
 * NULL or empty, no_access disable_redirect_access_to_syslog. 0, or -1
 * with "Invalid value for NAME: ..." in err (and c empty): a bad address
 * (cu_syslog_parse_addr), an unknown facility, and, Ours, a NAME longer
 * than CU_SYSLOG_NAME_MAX.
 */
int cu_syslog_config_make(struct cu_syslog_config *c, int on, const char *addr,
                          const char *facility, const char *prefix,
                          const char *name, int no_access, char *err,
                          size_t errlen);
/* Frees what c owns and leaves it off; may be called again. */
void cu_syslog_config_free(struct cu_syslog_config *c);

/* ---- this process's socket ------------------------------------------- */

/*
 * Sends to c from now on (c off, or NULL: stops sending): resolves the
 * host (its addresses in getaddrinfo's order, as Python's), opens the
 * socket and connects a stream, waiting up to CU_SYSLOG_CONNECT_WAIT_MS
 * for it (a server that is not there is tried again later). 0, or -1 with
 * why in err and the previous syslog left as it was: a name that does not
 * resolve, no socket. Copies what it needs from c.
 */
#define CU_SYSLOG_CONNECT_WAIT_MS 500
int cu_syslog_open(const struct cu_syslog_config *c, char *err, size_t errlen);
/* Stops sending; frees everything. */
void cu_syslog_close(void);

/* Bit 1: error lines go to syslog; bit 2: access lines too. */
extern int cu_syslog_sending;

static inline int cu_syslog_access_on(void)
{
    return (cu_syslog_sending & 2) != 0;
}

/* ---- the messages ------------------------------------------------------ */

/* An error-log line at level: text is what follows the line's
 * "[stamp] [pid] [LEVEL] ", without its newline. */
void cu_syslog_error(int level, const char *text, size_t len);
/* An access-log line, without its newline. */
void cu_syslog_access(const char *line, size_t len);
/* cu_syslog_error for a signal handler: async-signal-safe; sent to a
 * datagram socket only. */
void cu_syslog_signal(int level, const char *text, size_t len);

#endif
