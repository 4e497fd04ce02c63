# realconf: https://github.com/pypi/warehouse/blob/69de85b77b533192f61d77495ce652462b0db99e/gunicorn-prod.conf.py
# realconf: sha256 143e997b4b5558fd0550857e7a6c8b5fa1036faf1b9cd9d816e2539b98fd9137 of that file; a line we changed follows its original, kept as '# realconf: was: ...'
# SPDX-License-Identifier: Apache-2.0

bind = "unix:/var/run/cabotage/cabotage.sock"
backlog = 2048
preload_app = True
max_requests = 2048
max_requests_jitter = 128

worker_connections = 1000
timeout = 60
keepalive = 2

errorlog = "-"
loglevel = "info"
accesslog = "-"
access_log_format = (
    '%({Warehouse-Hashed-IP}i)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"'
)

statsd_host = "localhost:8125"


def when_ready(server):
    open("/tmp/app-initialized", "w").close()
