from django.urls import path

from . import views

urlpatterns = [
    path("", views.ok),  # what the bench polls for a 200 at start-up
    path("items/", views.items),
    path("api/items/", views.ItemList.as_view()),
]
