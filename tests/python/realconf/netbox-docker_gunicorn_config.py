# realconf: https://github.com/netbox-community/netbox-docker/blob/43c05d816df73a9a4268543aa5691432379cd91a/docker/gunicorn_config.py
# realconf: sha256 acdd79bd3c673a14b5c3711be1e0efb446edd7eeaad0bfc463aa5e3171161975 of that file; a line we changed follows its original, kept as '# realconf: was: ...'
command = '/usr/bin/gunicorn'
# realconf: was: pythonpath = '/opt/netbox/netbox'
pythonpath = 'apps'  # realconf: changed: the stand-in app, relative to the test's working directory
bind = '0.0.0.0:8001'
workers = 3
errorlog = '-'
accesslog = '-'
capture_output = False
loglevel = 'debug'
