"""Settings of the test Django project: no database, no installed apps.

$CUNICORN_TEST_DIR is a directory the test fills (data.bin is served by
/file and /static/; uploads spill there); $CUNICORN_TEST_PROPAGATE=1 lets
exceptions reach the server instead of Django's own 500 page.
"""

import os

DATA_DIR = os.environ.get("CUNICORN_TEST_DIR", os.path.dirname(__file__))

SECRET_KEY = "cunicorn-tests-only-not-a-secret"
DEBUG = False
DEBUG_PROPAGATE_EXCEPTIONS = os.environ.get("CUNICORN_TEST_PROPAGATE") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "djangoproj.urls"
WSGI_APPLICATION = "djangoproj.wsgi.application"

INSTALLED_APPS = []
DATABASES = {}
TEMPLATES = []
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
]

USE_TZ = True
TIME_ZONE = "UTC"   # Django puts it in $TZ: the worker's log stamps follow it
USE_I18N = False
FILE_UPLOAD_TEMP_DIR = DATA_DIR

# With DEBUG off Django only mails request errors to ADMINS; write them to
# stderr instead, which --capture-output sends into the server's error log.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {
        "django.request": {"handlers": ["stderr"], "level": "ERROR",
                           "propagate": False},
    },
}
