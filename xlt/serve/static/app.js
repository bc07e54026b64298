// The language-processing page: one request to /api/analyze, then plain DOM updates (no framework).
const $ = (id) => document.getElementById(id);
let last = null;

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function showEntities(text, spans) {
  const box = $("entities");
  box.replaceChildren();
  let pos = 0;
  for (const s of spans) {
    box.append(text.slice(pos, s.start));
    const m = el("mark", text.slice(s.start, s.end), "entity " + s.type);
    m.append(el("small", s.type));
    box.append(m);
    pos = s.end;
  }
  box.append(text.slice(pos));
  if (!spans.length) box.append(el("p", "(no entities found)"));
}

function showResult(r) {
  last = r;
  $("language").textContent = `${r.language.name} (${r.language.code}), confidence ${r.language.confidence}`;
  const t = r.translation;
  $("translation").replaceChildren(t.text !== undefined ? el("span", t.text, "translation-text") : el("em", t.message));
  if (t.translator) $("translation").append(el("small", `  (${t.translator})`));
  $("say-translation").disabled = t.text === undefined;
  $("class-section").hidden = !r.classification;
  if (r.classification) {
    const box = $("classification");
    box.replaceChildren(el("strong", r.classification.label, "label"));
    const probs = Object.entries(r.classification.probabilities).sort((a, b) => b[1] - a[1]);
    for (const [label, p] of probs) {
      const row = el("div", undefined, "probability");
      const bar = el("span", undefined, "bar");
      bar.style.width = `${Math.round(p * 200)}px`;
      row.append(bar, `${label} ${p.toFixed(3)}`);
      box.append(row);
    }
  }
  $("ner-section").hidden = !r.entities;
  if (r.entities) showEntities(r.text, r.entities);
  $("notice").hidden = !r.notice;
  $("notice").textContent = r.notice || "";
  $("result").hidden = false;
}

function play(text, language) {
  const audio = $("audio");
  audio.src = `/api/speak?language=${encodeURIComponent(language)}&text=${encodeURIComponent(text)}`;
  audio.play().catch(() => {}); // autoplay may be refused; the controls still play it
}

$("form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("status").textContent = "Analysing…";
  $("status").className = "";
  const res = await fetch("/api/analyze", {
    method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({text: $("text").value}),
  });
  const body = await res.json();
  if (!res.ok) {
    $("status").textContent = body.error || body.detail || `error ${res.status}`;
    $("status").className = "error";
    return;
  }
  $("status").textContent = "Done.";
  showResult(body);
});
$("say-input").addEventListener("click", () => last && play(last.text, last.language.code));
$("say-translation").addEventListener("click", () => last && last.translation.text && play(last.translation.text, "eng"));
