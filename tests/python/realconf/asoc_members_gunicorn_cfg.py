# realconf: https://github.com/PyAr/asoc_members/blob/b9b9803024c01d93b6edf9be5014e2db47b33117/website/website/gunicorn_cfg.py
# realconf: sha256 dd84d3f4d1f4a0b7d9f8beddbffcb03ae0b3e5f99452f3d51b4e8dc2e43af9dc of that file; a line we changed follows its original, kept as '# realconf: was: ...'
bind = '0.0.0.0:8000'
# Assuming one CPU. http://docs.gunicorn.org/en/stable/design.html#how-many-workers
# 2 * cores + 1
workers = 3
# You can send signals to it http://docs.gunicorn.org/en/latest/signals.html
# realconf: was: pidfile = '/run/gunicorn.pid'
pidfile = 'asoc_members.pid'  # realconf: changed: in the test's working directory, not /run
# Logformat including request time.
access_log_format = '%(h)s %({X-Forwarded-For}i)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" "%(L)s seconds"'  # noqa
loglevel = 'info'
accesslog = '-'  # stdout
errorlog = '-'  # stdout
# Also send logs to syslog.
syslog = False
syslog_prefix = '[asoc_members-wsgi]'
timeout = 84000
