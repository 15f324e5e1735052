"""A tiny Flask app for devbox's examples: `devbox up` serves it with reload."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def index():
    return "Hello from Flask in devbox!\n"


@app.get("/health")
def health():
    return {"status": "ok"}
