"""A small Django project for bench/realapps.py: one model on SQLite, a view
rendering a template from the ORM, and a Django REST framework list view.

  GET /items/      the template items.html over Item.objects.all()
  GET /api/items/  a DRF ListAPIView of the same rows, as JSON

The database is the file $BENCH_DJANGO_DB (realapps.py creates it in its
temporary folder with setup_db() before starting any server).
"""
