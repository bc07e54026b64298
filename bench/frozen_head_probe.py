"""The probes behind the frozen method's head and the code-switching defaults, on NusaX-senti,
English source, all ten local languages, on cached frozen e5 features (no encoder training):

  switch  code-switching ratio x copies: logistic regression, C on English validation, scored on the
          targets' validation splits (the choice) and test splits
  head    zero-shot: logistic regression (C on English validation) against a head trained by AdamW on
          the same features (the frozen method's former head), with and without code-switching
  weight  few-shot 100: how much the target rows weigh against the source rows when the head is refitted
  fst     few-shot 100 + self-training (3 rounds, 60%): whether the pseudo-labelled target texts weigh as
          source rows (xlt's first version) or join the 100 labelled rows on the target side

    python bench/frozen_head_probe.py --parts switch head weight fst --seeds 0
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from xlt.config import parse_config
from xlt.data.code_switch import code_switch
from xlt.data.lexicons import load_dictionaries
from xlt.data.pipeline import load_language
from xlt.data.splits import k_shot
from xlt.evaluate.metrics import macro_f1
from xlt.methods.frozen import C_GRID, logistic_regression_by_validation
from xlt.tasks.classification import confident_per_class
from xlt.models import load_classifier, resolve
from xlt.tasks import get_task
from xlt.train import pooled_features, set_threads

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
LANGS = ["ace", "ban", "bbc", "bjn", "bug", "jav", "mad", "min", "nij", "sun"]


def adamw_head(x, y, xv, yv, seed: int) -> torch.nn.Linear:
    """The former frozen head: AdamW lr 1e-2, 200 epochs of batches of 64, best validation checkpoint every 10."""
    torch.manual_seed(seed)
    head = torch.nn.Linear(x.shape[1], 3)
    opt = torch.optim.AdamW(head.parameters(), lr=1e-2, weight_decay=0.01)
    yt, g, best = torch.tensor(y), torch.Generator().manual_seed(seed), (-1.0, None)
    for epoch in range(1, 201):
        perm = torch.randperm(len(yt), generator=g)
        for i in range(0, len(yt), 64):
            b = perm[i:i + 64]
            loss = torch.nn.functional.cross_entropy(head(x[b]), yt[b])
            loss.backward()
            opt.step()
            opt.zero_grad()
        if epoch % 10 == 0:
            with torch.no_grad():
                f1 = macro_f1(yv, head(xv).argmax(1).tolist())
            if f1 > best[0]:
                best = (f1, {k: v.clone() for k, v in head.state_dict().items()})
    head.load_state_dict(best[1])
    return head


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--parts", nargs="+", default=["switch", "head", "weight"], choices=["switch", "head", "weight", "fst"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    args = ap.parse_args()
    set_threads(None)
    exp = parse_config({"name": "probe", "source": {"dataset": "nusax-senti", "language": "eng"},
                        "targets": [{"dataset": "nusax-senti", "language": lang} for lang in LANGS],
                        "augment": {"code_switch": {"dictionaries": [{"dictionary": "wiktionary-bli", "language": "ind"}]}}})
    src, _ = load_language(exp.source, exp.preprocess, str(DATA))
    targets = {t.language: load_language(t, exp.preprocess, str(DATA))[0] for t in exp.targets}
    labels = sorted(set(src.labels))
    l2i = {lab: i for i, lab in enumerate(labels)}
    spec = resolve(exp.model)
    tok, model, task = spec.tokenizer(), load_classifier(spec, 3, dict(enumerate(labels))), get_task("classification")
    words, _ = load_dictionaries(exp.augment.code_switch.dictionaries, str(DATA))

    def feats(rows):
        return pooled_features(model, tok, task.encode(tok, rows, spec.text_prefix, 128, l2i).ids), [l2i[r.label] for r in rows]

    def source(ratio: float, copies: int, seed: int):
        return feats(src.splits["train"] + (code_switch(src.splits["train"], words, ratio, copies, seed)[0] if copies else []))

    xv, yv = feats(src.splits["validation"])
    val = {lang: feats(d.splits["validation"]) for lang, d in targets.items()}
    test = {lang: feats(d.splits["test"]) for lang, d in targets.items()}

    def mean_f1(predict, split) -> float:
        return 100 * np.mean([macro_f1(y, predict(x)) for x, y in split.values()])

    for seed in args.seeds:
        if "switch" in args.parts:
            for ratio, copies in [(0.0, 0), (0.3, 1), (0.3, 3), (0.5, 1), (0.5, 3), (0.9, 1), (0.9, 3)]:
                x, y = source(ratio, copies, seed)
                clf, c, _, _ = logistic_regression_by_validation(x.numpy(), y, xv.numpy(), yv, C_GRID)
                pred = lambda f: clf.predict(f.numpy()).tolist()  # noqa: E731
                print(f"switch seed {seed} ratio {ratio} x {copies}: C {c}, target validation "
                      f"{mean_f1(pred, val):.1f}, test {mean_f1(pred, test):.1f}", flush=True)
        if "head" in args.parts:
            for copies in (0, 3):
                x, y = source(0.9, copies, seed)
                clf, c, _, _ = logistic_regression_by_validation(x.numpy(), y, xv.numpy(), yv, C_GRID)
                head = adamw_head(x, y, xv, yv, seed)
                with torch.no_grad():
                    adam = mean_f1(lambda f: head(f).argmax(1).tolist(), test)
                print(f"head seed {seed} code-switch copies {copies}: zero-shot test, logistic regression (C {c}) "
                      f"{mean_f1(lambda f: clf.predict(f.numpy()).tolist(), test):.1f}, AdamW head {adam:.1f}", flush=True)
        if "weight" in args.parts:
            xs, ys = source(0.9, 3, seed)
            for share in (None, 0.25, 0.5, 0.75):  # None: every row weight 1
                scores = []
                for lang, d in targets.items():
                    xk, yk = feats(k_shot(d.splits["train"], 100, seed))
                    w = 1.0 if share is None else share / (1 - share) * len(ys) / len(yk)
                    clf, _, f1v, _ = logistic_regression_by_validation(
                        torch.cat([xs, xk]).numpy(), ys + yk, val[lang][0].numpy(), val[lang][1], C_GRID,
                        sample_weight=np.array([1.0] * len(ys) + [w] * len(yk)))
                    scores.append((f1v, macro_f1(test[lang][1], clf.predict(test[lang][0].numpy()).tolist())))
                v, t = (100 * np.mean([s[i] for s in scores]) for i in (0, 1))
                print(f"weight seed {seed} target share {share or 'natural'}: few-shot 100, target validation "
                      f"{v:.1f}, test {t:.1f}", flush=True)
        if "fst" in args.parts:
            xs, ys = source(0.9, 3, seed)
            unl = {lang: feats(d.splits["train"] + d.splits["validation"])[0] for lang, d in targets.items()}
            for side in ("none", "source", "target"):
                scores = []
                for lang, d in targets.items():
                    shots = k_shot(d.splits["train"], 100, seed)
                    xk, yk = feats(shots)
                    texts = [r.text for r in d.splits["train"] + d.splits["validation"]]
                    xu = unl[lang][[i for i, t in enumerate(texts) if t not in {r.text for r in shots}]]

                    def fit(xp, yp):
                        if side == "target":  # source, then shots + pseudo weighing as much as the source
                            x, y = torch.cat([xs, xk, xp]), ys + yk + yp
                            w = [1.0] * len(ys) + [len(ys) / (len(yk) + len(yp))] * (len(yk) + len(yp))
                        else:  # source + pseudo at weight 1, the shots weighing as much as both
                            x, y = torch.cat([xs, xp, xk]), ys + yp + yk
                            w = [1.0] * (len(ys) + len(yp)) + [(len(ys) + len(yp)) / len(yk)] * len(yk)
                        return logistic_regression_by_validation(x.numpy(), y, val[lang][0].numpy(), val[lang][1],
                                                                 C_GRID, sample_weight=np.array(w))

                    clf, _, f1v, _ = fit(xs[:0], [])
                    for _round in range(3 if side != "none" else 0):
                        probs = clf.predict_proba(xu.numpy())
                        keep = confident_per_class(probs, 0.6)
                        clf, _, f1v, _ = fit(xu[keep], probs[keep].argmax(1).tolist())
                    scores.append((f1v, macro_f1(test[lang][1], clf.predict(test[lang][0].numpy()).tolist())))
                v, t = (100 * np.mean([s[i] for s in scores]) for i in (0, 1))
                print(f"fst seed {seed} pseudo-labels on the {side} side: few-shot 100, target validation {v:.1f}, "
                      f"test {t:.1f}", flush=True)


if __name__ == "__main__":
    main()
