"""Prediction over HTTP (FastAPI). Binds to localhost unless told otherwise, bounds the request
body, the number of texts and their length, answers an empty text with a per-item error (never a
made-up label), and returns the model's notice with every answer (for mental-health models: a
research screening signal, not a diagnosis)."""
from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from pydantic import BaseModel, ValidationError

from xlt.serve.predict import Predictor


class PredictRequest(BaseModel):
    texts: list[str]


def create_app(model_dir: str | Path, max_texts: int = 64, max_chars: int = 10_000,
               max_body_bytes: int = 1_000_000, onnx: str | None = None) -> FastAPI:
    predictor = Predictor(model_dir, onnx=onnx)
    app = FastAPI(title="xlt prediction server")

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "labels": predictor.labels, "notice": predictor.notice}

    @app.post("/predict")
    async def predict(request: Request) -> dict:
        declared = request.headers.get("content-length")
        if declared is not None and not declared.isdigit():
            raise HTTPException(400, "content-length is not a number of bytes")
        if declared is not None and int(declared) > max_body_bytes:
            raise HTTPException(413, f"request body over {max_body_bytes} bytes; send fewer or shorter texts")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_body_bytes:
                raise HTTPException(413, f"request body over {max_body_bytes} bytes; send fewer or shorter texts")
        try:
            req = PredictRequest.model_validate_json(body)
        except ValidationError as exc:
            raise HTTPException(422, 'expected JSON {"texts": ["...", ...]}: ' + exc.errors()[0]["msg"]) from None
        if not req.texts:
            raise HTTPException(422, "texts is empty")
        if len(req.texts) > max_texts:
            raise HTTPException(413, f"{len(req.texts)} texts; at most {max_texts} per request")
        too_long = [i for i, t in enumerate(req.texts) if len(t) > max_chars]
        if too_long:
            raise HTTPException(413, f"texts {too_long[:5]} are longer than {max_chars} characters")
        out = {"predictions": predictor.predict_records(req.texts)}  # an empty text gets {"error": ...}
        if predictor.notice:
            out["notice"] = predictor.notice
        return out

    return app


def serve(model_dir: str | Path, host: str = "127.0.0.1", port: int = 8000, **limits) -> None:
    import uvicorn

    uvicorn.run(create_app(model_dir, **limits), host=host, port=port, log_level="info")
