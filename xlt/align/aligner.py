"""The frozen method's alignment: one map per target language into the source language's sentence-vector space,
fitted on first use, saved under stages/ (an interrupted or repeated experiment reuses it) and applied in front of
the linear head, so training features, predictions and the saved model's head all see the same mapped vectors."""
from __future__ import annotations

import contextlib
import json
import time

import numpy as np
import torch

from xlt.align.maps import FeatureMap, mean_center, procrustes
from xlt.align.parallel import pairs_by_target
from xlt.data.examples import Example, unlabelled_texts
from xlt.files import atomic_save_tensors, atomic_write_text, load_saved_tensors
from xlt.protocol.stages import stage_key


class Aligner:
    def __init__(self, ctx, cfg):
        self.ctx, self.cfg = ctx, cfg
        self.source = ctx.source.language
        self.language = self.source  # set by the method's use_language
        self.mapping = True  # False while a run that trains on target labels reads unmapped vectors
        self.maps: dict[str, FeatureMap] = {}
        self.info: dict[str, dict] = {}
        self.targets = {t.language: t for t in ctx.targets if t.language != self.source}
        self.skipped: dict[str, dict] = {}  # targets read unmapped (no text for their mean, required: false)
        for language, data in list(self.targets.items()):  # read now: what the data lacks fails before any write
            if not cfg.required and not (data.unlabelled or data.splits["train"] or data.splits["validation"]):
                self.skipped[language] = {"map": "none", "note": f"{data.key()} has no unlabelled text for its "
                                          "mean vector: read unmapped"}
                del self.targets[language]
                continue
            unlabelled_texts(data, "alignment (its target-language mean vector; required: false reads such a "
                                   "target unmapped)")
        self.pairs = pairs_by_target(ctx, cfg.parallel, cfg.max_pairs) if cfg.map == "procrustes" else {}

    def use(self, language: str, labelled: bool = False) -> None:
        """Rows are in `language` from now on; its map is fitted (or loaded) now, so the run records it.
        `labelled`: the run trains on that language's labelled rows; with_target_labels false leaves it unmapped."""
        self.language = language
        self.mapping = self.cfg.with_target_labels or not labelled
        if self.mapping and language in self.targets:
            self.map_for(language)

    def attach(self, model) -> None:
        """Map the head's input for the current language in every forward through the head."""
        model.classifier.register_forward_pre_hook(lambda _module, args: (self.map_tensor(args[0], self.language),))

    def map_tensor(self, x: torch.Tensor, language: str) -> torch.Tensor:
        if not self.mapping or language == self.source or language not in self.targets:
            return x
        a, b = (torch.as_tensor(v, dtype=x.dtype, device=x.device) for v in self.map_for(language).as_affine())
        return x @ a + b

    def map_rows(self, x: torch.Tensor, languages: list[str] | None) -> torch.Tensor:
        """Each row mapped by its own language's map (None: all in the current language)."""
        if languages is None:
            return self.map_tensor(x, self.language)
        out = x.clone()
        for language in set(languages):
            rows = torch.tensor([i for i, lang in enumerate(languages) if lang == language])
            out[rows] = self.map_tensor(x[rows], language)
        return out

    @contextlib.contextmanager
    def folded(self, model):
        """The current language's map folded into the head's weights (for saving a plain classifier)."""
        head = model.classifier
        if not self.mapping or self.language == self.source or self.language not in self.targets:
            yield
            return
        language = self.language
        a, b = (torch.as_tensor(v) for v in self.map_for(language).as_affine())
        saved = head.weight.detach().clone(), head.bias.detach().clone()
        self.language = self.source  # the hook leaves the head's input alone while the head holds the map
        try:
            with torch.no_grad():  # W (x A + b) + c = (W A^T) x + (W b + c)
                head.bias.copy_(saved[0] @ b.to(saved[0]) + saved[1])
                head.weight.copy_(saved[0] @ a.T.to(saved[0]))
            yield
        finally:
            with torch.no_grad():
                head.weight.copy_(saved[0])
                head.bias.copy_(saved[1])
            self.language = language

    def map_for(self, language: str) -> FeatureMap:
        if language not in self.maps:
            self.maps[language], self.info[language] = self._load_or_fit(language)
        return self.maps[language]

    def _load_or_fit(self, language: str) -> tuple[FeatureMap, dict]:
        ctx, cfg = self.ctx, self.cfg
        source_texts = [r.text for r in ctx.source.splits["train"]]
        target_texts = unlabelled_texts(self.targets[language])
        pairs, where = self.pairs.get(language, ([], ""))
        key = stage_key([str(ctx.spec.path), ctx.spec.text_prefix, cfg.map, pairs, source_texts, target_texts])
        path = ctx.stages.dir / f"align-{cfg.map}-{language}-{key}.safetensors"
        if not path.exists():
            start = time.perf_counter()
            mu_s, mu_t = self._vectors(source_texts).mean(0), self._vectors(target_texts).mean(0)
            if cfg.map == "procrustes":
                fmap = procrustes(self._vectors([s for s, _ in pairs]), self._vectors([t for _, t in pairs]), mu_s, mu_t)
            else:
                fmap = mean_center(mu_s, mu_t)
            info = {"map": cfg.map, "source_texts": len(source_texts), "target_texts": len(target_texts),
                    **({"parallel": where, "pairs": len(pairs), "dimensions": len(mu_s)} if pairs else {}),
                    "seconds": round(time.perf_counter() - start, 1)}
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(path.with_suffix(".json"), json.dumps(info))
            atomic_save_tensors(path, {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32))
                                       for k, v in fmap.tensors().items()})
        t = {k: v.numpy() for k, v in load_saved_tensors(path).items()}
        return FeatureMap(t["rotation"], t["shift_from"], t["shift_to"]), json.loads(path.with_suffix(".json").read_text())

    def _vectors(self, texts: list[str]) -> np.ndarray:
        from xlt.train import pooled_features, prediction_batch_size

        ctx = self.ctx
        ids = ctx.encode([Example(t, "") for t in texts]).ids
        return pooled_features(ctx.frozen_encoder(), ctx.tokenizer, ids,
                               prediction_batch_size(ctx.exp.training)).numpy()
