/*
 * What the WSGI bridge is set up with, derived from the settings
 * (src/config/derive.c). A plain header: the settings side fills it
 * without Python.
 */
#ifndef CU_WSGI_OPTS_H
#define CU_WSGI_OPTS_H

struct cu_wsgi_opts {
    int multithread;             /* wsgi.multithread */
    int multiprocess;            /* wsgi.multiprocess: more than one worker */
    int is_ssl;                  /* wsgi.url_scheme https by default */
    int errors_fd;               /* where wsgi.errors writes (the error log) */
    int sendfile;                /* file_wrapper bodies with sendfile(2) */
    const char *server_software; /* SERVER_SOFTWARE */
    const char *server;          /* the Server header's value (latin-1,
                                  * at most 1024 bytes, no control bytes);
                                  * NULL: "cunicorn" */
};

#endif
