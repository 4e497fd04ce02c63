from django.urls import path, re_path
from django.views.generic import RedirectView
from django.views.static import serve

from . import views
from .settings import DATA_DIR

urlpatterns = [
    path("users/<int:uid>/posts/<str:slug>", views.post),
    path("form", views.form),
    path("upload", views.upload),
    path("json", views.json_view),
    path("stream", views.stream),
    path("file", views.file),
    re_path(r"^static/(?P<path>.+)$", serve, {"document_root": DATA_DIR}),
    path("items", views.items),
    path("items/<int:item_id>", views.item),
    path("old", RedirectView.as_view(url="/new", permanent=False)),
    path("new", views.new),
    path("cookies", views.cookies),
    path("whoami", views.whoami),
    path("boom", views.boom),
]
