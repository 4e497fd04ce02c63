import os

from django.http import JsonResponse
from django.urls import re_path

IMPORTED_IN = os.getpid()


def whoami(request):
    return JsonResponse({"pid": os.getpid(), "imported_in": IMPORTED_IN,
                         "path": request.path})


urlpatterns = [re_path(r"", whoami)]
