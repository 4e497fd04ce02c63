from django.http import HttpResponse
from django.shortcuts import render
from rest_framework import generics, serializers

from .models import Item


def ok(request):
    return HttpResponse(b"ok\n", content_type="text/plain")


def items(request):
    return render(request, "items.html", {"items": Item.objects.all()})


class ItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = Item
        fields = ["id", "name", "price", "stock", "created"]


class ItemList(generics.ListAPIView):
    queryset = Item.objects.all()
    serializer_class = ItemSerializer
