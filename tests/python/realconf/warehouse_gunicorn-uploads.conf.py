# realconf: https://github.com/pypi/warehouse/blob/ecb90f7aac30ce07519a259f4ab5546be2d96526/gunicorn-uploads.conf.py
# realconf: sha256 93607c92c19ae3301aaf5c808c868689b441cbf56f2aab005f45a3f151a3e0c5 of that file; a line we changed follows its original, kept as '# realconf: was: ...'
bind = "unix:/var/run/cabotage/cabotage.sock"
backlog = 512
preload_app = True
max_requests = 32
max_requests_jitter = 8

worker_connections = 256
timeout = 240
keepalive = 2

errorlog = "-"
loglevel = "info"
accesslog = "-"
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"'


def when_ready(server):
    open("/tmp/app-initialized", "w").close()
