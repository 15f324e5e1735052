"""A tiny FastAPI app for devbox's examples: `devbox up` serves it with uvicorn --reload."""

from fastapi import FastAPI

app = FastAPI(title="fastapi-app")


@app.get("/")
def index() -> dict[str, str]:
    return {"message": "Hello from FastAPI in devbox!"}
