"""xlt: cross-lingual transfer learning, from one config to an honest report.

    import xlt
    results = xlt.run("config.yaml")     # a Results: .runs (pandas), .report, .store
    model = xlt.load("runs/.../models/full_shot-jav-seed0")
    model.predict(["..."])
"""
__version__ = "0.2.0"

_API = {"run": "xlt.api", "load": "xlt.api", "Results": "xlt.api", "Experiment": "xlt.config",
        "load_config": "xlt.config", "check_experiment": "xlt.protocol", "run_experiment": "xlt.protocol",
        "rank_sources": "xlt.ranking.api", "evaluate_rankers": "xlt.ranking.api"}

__all__ = [*_API, "__version__"]


def __getattr__(name: str):
    """The public names, imported on first use (so `xlt --help` and `import xlt` stay quick)."""
    if name in _API:
        import importlib

        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'xlt' has no attribute {name!r}")
