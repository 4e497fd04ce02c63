"""A Flask JSON endpoint, the first app of bench/realapps.py.

  GET /   a JSON object of a few fields and a list of ten items (about 600
          bytes), built per request and serialised by Flask's jsonify
"""

from flask import Flask, jsonify

app = Flask(__name__)

ITEMS = [{"id": i, "name": "item %d" % i, "price": 1.25 * i, "tags": ["a", "b"]}
         for i in range(10)]


@app.get("/")
def index():
    return jsonify(status="ok", count=len(ITEMS), items=ITEMS)


application = app
