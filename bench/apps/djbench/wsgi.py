"""The WSGI app of the bench project: djbench.wsgi:application."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djbench.settings")
application = get_wsgi_application()
app = application


def setup_db(rows=10):
    """Creates the tables in $BENCH_DJANGO_DB and `rows` items."""
    from django.core.management import call_command

    from .models import Item
    call_command("migrate", run_syncdb=True, verbosity=0)
    Item.objects.bulk_create(Item(name="item %d" % i, price=i * 1.25 + 0.5, stock=i * 3)
                             for i in range(rows))
