"""The language-processing page (`xlt serve --ui`) in headless Chromium, driven through selenium with
Debian's chromium-driver: submit a sentence, wait for the answer, check what the page shows, the audio,
the console, and save a screenshot. Skips, with the reason, only where Chromium (or espeak-ng, which speaks)
is not installed (`make` installs both as root where apt is available). Also its API's request bounds,
without a browser."""
from __future__ import annotations

import os
import random
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

from conftest import FILL, ROOT, tiny_config

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
NAMES = {"Juma": "PER", "Amina": "PER", "Wanjiru": "PER", "Kofi": "PER", "Nairobi": "LOC", "Lagos": "LOC",
         "Accra": "LOC"}
SCREENSHOT = ROOT / "docs" / "images" / "language-page.png"


def _ner_files(tmp_path: Path) -> dict[str, Path]:
    rng = random.Random(0)
    files = {}
    for lang in ("src", "tgt"):
        for split, n in (("train", 300), ("validation", 30), ("test", 30)):
            sents = []
            for _ in range(n):
                words = rng.sample(FILL, 4) + rng.sample(sorted(NAMES), 2)
                rng.shuffle(words)
                sents.append("\n".join(f"{w} {'B-' + NAMES[w] if w in NAMES else 'O'}" for w in words))
            files[f"{lang}_{split}"] = tmp_path / f"ner_{lang}_{split}.conll"
            files[f"{lang}_{split}"].write_text("\n\n".join(sents) + "\n", encoding="utf-8")
    return files


@pytest.fixture(scope="module")
def saved_models(tmp_path_factory, tiny_model_dir) -> list[Path]:
    """A classification model and an NER model, trained by xlt on the tiny model (a few seconds each)."""
    import xlt
    from conftest import synthetic_rows, write_csv

    tmp = tmp_path_factory.mktemp("page-models")
    data = {}
    for lang, seed in (("src", 1), ("tgt", 2)):
        rows = synthetic_rows(160, seed)
        for split, part in (("train", rows[:100]), ("validation", rows[100:130]), ("test", rows[130:])):
            data[f"{lang}_{split}"] = write_csv(tmp / f"{lang}_{split}.csv", part)
    out = []
    for task, files in (("classification", data), ("ner", _ner_files(tmp))):
        cfg = tiny_config(tiny_model_dir, files, tmp / task, baselines=[], task=task)
        strategy = "target_only" if task == "classification" else "full_shot"  # NER: source and target stages
        cfg["protocol"] = {"strategies": [strategy], "seeds": [0]}
        cfg["output"]["save_models"] = [strategy]
        if task == "ner":
            for section in [cfg["source"], *cfg["targets"]]:
                section.pop("text"), section.pop("label")
                section["format"] = "conll"
        res = xlt.run(cfg, progress=False, report=False)
        out.append(next((res.output_dir / "models").iterdir()))
    return out


def _translator(tmp_path: Path):
    from xlt.translate import make_translator

    apertium = make_translator("apertium")
    if ("spa", "eng") in apertium.pairs():
        return apertium
    lex = tmp_path / "spa.txt"
    lex.write_text("food\tcomida\nsaid\tdijo\ngood\tbuena\nthe\tla\nwas\testaba\n", encoding="utf-8")
    return make_translator("dictionary", lexicons=[{"path": str(lex), "language": "spa", "order": "source-target"}])


@pytest.fixture()
def page_app(saved_models, tmp_path):
    from xlt.serve.ui import create_ui_app
    from xlt.translate.cache import TranslationCache

    return create_ui_app(saved_models, _translator(tmp_path), TranslationCache(tmp_path / "c.sqlite"))


def test_the_page_api_bounds_requests_and_answers_one_sentence(page_app):
    from fastapi.testclient import TestClient

    client = TestClient(page_app)
    res = client.post("/api/analyze", json={"text": "Juma dijo que la comida estaba buena en Nairobi."})
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["language"]["code"] == "spa" and body["translation"]["text"]
    assert set(body["classification"]["probabilities"]) == {"negative", "positive"}
    assert isinstance(body["entities"], list)
    big = client.post("/api/analyze", content=b'{"text": "' + b"a" * 30_000 + b'"}',
                      headers={"content-type": "application/json"})
    assert big.status_code == 413 and "request body over" in big.json()["error"]
    assert client.post("/api/analyze", json={"text": "x" * 2_001}).status_code == 413
    assert client.post("/api/analyze", json={"text": "  "}).status_code == 422
    assert client.get("/api/speak", params={"text": "y" * 2_001}).status_code == 413


def _serve(app) -> tuple[str, object]:
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server


@pytest.mark.skipif(CHROMIUM is None or DRIVER is None or shutil.which("espeak-ng") is None,
                    reason="chromium, chromium-driver or espeak-ng is not installed (Debian: apt-get install "
                    "chromium chromium-driver espeak-ng; `make` does it as root)")
def test_the_page_in_headless_chromium(page_app, tmp_path):
    import httpx
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    url, server = _serve(page_app)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=900,1100",
                "--autoplay-policy=no-user-gesture-required"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    try:
        driver.get(url + "/")
        driver.find_element(By.ID, "text").send_keys("Juma dijo que la comida estaba buena en Nairobi.")
        driver.find_element(By.ID, "analyze").click()
        wait = WebDriverWait(driver, 60)
        wait.until(EC.text_to_be_present_in_element((By.ID, "status"), "Done."))
        translation = driver.find_element(By.CSS_SELECTOR, "#translation .translation-text").text
        assert translation.strip() and translation != "Juma dijo que la comida estaba buena en Nairobi."
        assert driver.find_element(By.CSS_SELECTOR, "#classification .label").text in ("positive", "negative")
        assert len(driver.find_elements(By.CSS_SELECTOR, "#classification .probability")) == 2
        marks = driver.find_elements(By.CSS_SELECTOR, "#entities mark.entity")
        assert marks, driver.find_element(By.ID, "entities").text
        assert "Spanish" in driver.find_element(By.ID, "language").text
        driver.find_element(By.ID, "say-translation").click()
        wait.until(lambda d: d.find_element(By.ID, "audio").get_attribute("src"))
        src = driver.find_element(By.ID, "audio").get_attribute("src")
        wav = httpx.get(src, timeout=60).content
        assert wav[:4] == b"RIFF" and wav[8:12] == b"WAVE" and len(wav) > 1000
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, errors
        shot = tmp_path / "language-page.png"
        driver.save_screenshot(str(shot))
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        if os.environ.get("XLT_UPDATE_SCREENSHOT"):  # refresh the README's screenshot
            shutil.copy(shot, SCREENSHOT)
    finally:
        driver.quit()
        server.should_exit = True


def test_a_model_notice_comes_with_every_answer_and_entities_are_character_spans(saved_models, tmp_path):
    import json

    from fastapi.testclient import TestClient

    from xlt.serve.ui import create_ui_app, entity_spans

    screening = tmp_path / "screening"
    shutil.copytree(saved_models[0], screening)
    config = json.loads((screening / "config.json").read_text())
    config["xlt_notice"] = "research screening signal, not a diagnosis"
    (screening / "config.json").write_text(json.dumps(config))
    client = TestClient(create_ui_app([screening], None, None))
    body = client.post("/api/analyze", json={"text": "great day"}).json()
    assert body["notice"] == "research screening signal, not a diagnosis" and "entities" not in body
    assert body["translation"] == {"text": "great day", "translator": "none (already English)"} or \
        body["translation"]["message"].startswith("no translation")
    text = "Juma met Amina Ali in Nairobi."
    spans = entity_spans(text, text.split(), ["B-PER", "O", "B-PER", "I-PER", "O", "B-LOC"])
    assert [(s["start"], s["end"], s["type"], s["text"]) for s in spans] == [
        (0, 4, "PER", "Juma"), (9, 18, "PER", "Amina Ali"), (22, 30, "LOC", "Nairobi.")]
