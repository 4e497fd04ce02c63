# realconf: https://github.com/inventree/InvenTree/blob/684d8a1b09d336b141000d1de64b3cd06584c4ec/InvenTree/gunicorn.conf.py
# realconf: sha256 23b76e6865527cc016c0769ac9dfd5004229bd45f1027066d1be937fcc458043 of that file; a line we changed follows its original, kept as '# realconf: was: ...'
"""Gunicorn configuration script for InvenTree web server"""

import multiprocessing

bind = "0.0.0.0:8000"

workers = multiprocessing.cpu_count() * 2 + 1

max_requests = 1000
max_requests_jitter = 50
