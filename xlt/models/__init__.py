"""Models: resolve a reference to a backbone + tokenizer, and build task heads on it."""
from xlt.models.resolve import DEFAULT_MODEL, ModelSpec, load_classifier, resolve, save_for_transformers

__all__ = ["DEFAULT_MODEL", "ModelSpec", "load_classifier", "resolve", "save_for_transformers"]
