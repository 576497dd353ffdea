"""The baseline of serve_predict.py: one process, FastAPI, the same model run once per request.

Run by the benchmark as ``uvicorn _naive_server:app`` with ``ERRORACLE_NAIVE_MODEL`` naming the
model folder.
"""

from __future__ import annotations

import os

from fastapi import FastAPI

from erroracle.learners.model import load_model
from erroracle.platform.record_text import error_text

app = FastAPI()
model = load_model(os.environ["ERRORACLE_NAIVE_MODEL"])


@app.post("/api/v1/learning/predict")
def predict(body: dict) -> dict:
    [prediction] = model.predict([error_text({"message": body["error_message"]})])
    return {"category": prediction.category, "severity": prediction.severity}


@app.get("/healthz")
def healthz() -> dict:
    return {"ready": True}
