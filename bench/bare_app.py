"""The baseline of bench/page_bench.py: a bare Flask "hello" page."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello():
    return "Hello, World!"
