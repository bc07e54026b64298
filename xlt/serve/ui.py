"""The language-processing page (`xlt serve --ui`): for one sentence, its language, its English translation,
the classification with probabilities from a saved classification model, the named entities from a saved NER
model, and audio of the sentence or its translation (espeak-ng). FastAPI plus one static page.

The API: POST /api/analyze {"text": ...}; GET /api/speak?text=...&language=... (audio/wav). Requests are
bounded like the prediction server's (an oversized one is HTTP 413 with a JSON error), the server binds to
localhost by default, and a model's notice (mental-health models: a research screening signal, not a
diagnosis) is shown with every answer."""
from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel, ValidationError

from xlt.errors import XltError
from xlt.serve.predict import Predictor

STATIC = Path(__file__).parent / "static"


class AnalyzeRequest(BaseModel):
    text: str


def entity_spans(text: str, tokens: list[str], tags: list[str]) -> list[dict]:
    """IOB tags on whitespace tokens -> character spans {start, end, text, type}."""
    spans, pos, current = [], 0, None
    for token, tag in zip(tokens, tags):
        start = text.find(token, pos)
        start = pos if start < 0 else start
        end = pos = start + len(token)
        kind = tag[2:] if tag[:2] in ("B-", "I-") else None
        if kind and current and tag.startswith("I-") and current["type"] == kind:
            current["end"] = end
        elif kind:
            current = {"start": start, "end": end, "type": kind}
            spans.append(current)
        else:
            current = None
    return [{**s, "text": text[s["start"]:s["end"]]} for s in spans]


def create_ui_app(models: list[str | Path], translator=None, cache=None, max_chars: int = 2_000,
                  max_body_bytes: int = 20_000) -> FastAPI:
    """`models`: saved xlt model directories (the first text-classification one and the first token one are
    used); `translator`: an xlt translator into English (None: no translation)."""
    predictors = [Predictor(m) for m in models]
    classifier = next((p for p in predictors if p.task.data_kind == "text"), None)
    tagger = next((p for p in predictors if p.task.data_kind == "tokens"), None)
    if classifier is None and tagger is None:
        raise XltError("give at least one saved model directory (a classification or an NER model)")
    app = FastAPI(title="xlt language processing")

    def too_large(detail: str) -> JSONResponse:
        return JSONResponse({"error": detail}, status_code=413)

    @app.get("/")
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/app.js")
    def script() -> FileResponse:
        return FileResponse(STATIC / "app.js", media_type="text/javascript")

    @app.get("/favicon.ico")
    def favicon() -> Response:
        return Response(status_code=204)

    @app.post("/api/analyze")
    async def analyze(request: Request):
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > max_body_bytes):
            return too_large(f"request body over {max_body_bytes} bytes; send one sentence")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_body_bytes:
                return too_large(f"request body over {max_body_bytes} bytes; send one sentence")
        try:
            text = AnalyzeRequest.model_validate_json(body).text
        except ValidationError as exc:
            return JSONResponse({"error": 'expected JSON {"text": "..."}: ' + exc.errors()[0]["msg"]}, 422)
        if len(text) > max_chars:
            return too_large(f"the text has {len(text)} characters; at most {max_chars}")
        if not text.strip():
            return JSONResponse({"error": "empty text: type a sentence"}, 422)
        return analyze_text(text)

    def analyze_text(text: str) -> dict:
        from xlt.serve.language import detect

        lang = detect(text)
        out: dict = {"text": text, "language": lang}
        out["translation"] = _translate(text, lang["code"])
        notices = []
        if classifier is not None:
            rec = classifier.predict_records([text])[0]
            out["classification"] = {"label": rec["label"], "probabilities": rec["probabilities"]}
            notices.append(classifier.notice)
        if tagger is not None:
            rec = tagger.predict_records([text])[0]
            out["entities"] = entity_spans(text, rec["tokens"], rec["tags"])
            notices.append(tagger.notice)
        notice = " ".join(n for n in dict.fromkeys(notices) if n)
        if notice:
            out["notice"] = notice
        return out

    def _translate(text: str, code: str) -> dict:
        if code == "eng":
            return {"text": text, "translator": "none (already English)"}
        if translator is None or (code, "eng") not in translator.pairs():
            name = translator.label() if translator is not None else "no translator"
            return {"message": f"no translation: {name} has no {code}->eng"}
        return {"text": cache.translate(translator, [text], code, "eng")[0], "translator": translator.label()}

    @app.get("/api/speak")
    def speak(text: str, language: str = "eng") -> Response:
        from xlt.serve.language import speak as synthesise

        if len(text) > max_chars:
            return too_large(f"the text has {len(text)} characters; at most {max_chars}")
        if not text.strip():
            raise HTTPException(422, "empty text")
        try:
            return Response(synthesise(text, language), media_type="audio/wav")
        except XltError as exc:
            return JSONResponse({"error": str(exc)}, status_code=503)

    return app
