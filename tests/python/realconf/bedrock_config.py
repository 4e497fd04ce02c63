# realconf: https://github.com/mozilla/bedrock/blob/31943fea7582fa42320b44e796b0e343bfa90f89/wsgi/config.py
# realconf: sha256 5312f27cb31bb7324a365450a084d10f5e2f41f8b08695470b21927f04f2b1e2 of that file; a line we changed follows its original, kept as '# realconf: was: ...'
# see http://docs.gunicorn.org/en/latest/configure.html#configuration-file

from os import getenv


bind = f'0.0.0.0:{getenv("PORT", "8000")}'
workers = getenv("WEB_CONCURRENCY", 2)
accesslog = "-"
errorlog = "-"
loglevel = getenv("LOGLEVEL", "info")

# Larger keep-alive values maybe needed when directly talking to ELBs
# See https://github.com/benoitc/gunicorn/issues/1194
keepalive = getenv("WSGI_KEEP_ALIVE", 2)
worker_class = getenv("GUNICORN_WORKER_CLASS", "meinheld.gmeinheld.MeinheldWorker")
worker_connections = getenv("APP_GUNICORN_WORKER_CONNECTIONS", "1000")
worker_tmp_dir = "/dev/shm"


# Called just after a worker has been forked.
def post_fork(server, worker):
    server.log.info("Worker spawned (pid: %s)", worker.pid)
