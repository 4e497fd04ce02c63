"""A Django site as small as the Open edX config files need: their hooks
read settings.CACHES and settings.DEBUG, and close every cache."""

SECRET_KEY = "realconf-stand-in"
DEBUG = True  # ecommerce's when_ready runs Django's `check` in DEBUG
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "djangosite.urls"
INSTALLED_APPS = []
MIDDLEWARE = []
DATABASES = {}
CACHES = {"default": {"BACKEND": "djangosite.cache.MarkedCache"}}
USE_TZ = True
