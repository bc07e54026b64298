"""The protocol: what is trained on what, for every strategy, N, seed, target and method of a config.

- plan.py     every check before the first write, and the runs a config asks for
- context.py  what a run needs, loaded once per experiment
- stages.py   one fit_stage for every stage; source stages trained once per seed and reused
- strategies/ one file per strategy (target-only, zero-, few-, full-shot, joint, self-training, ...)
- resume.py   what an output folder already holds (and older stores' run identities)
- run.py      each run trained, scored on its test split and stored in one transaction
- study.py    several source sets (sources:): leave-one-out and the transfer matrix, one group each

The protocol decides what to train; methods decide how; the evaluator never knows how a model was trained.
"""
_PUBLIC = {"Plan": "xlt.protocol.plan", "check_experiment": "xlt.protocol.plan", "run_experiment": "xlt.protocol.run"}
__all__ = list(_PUBLIC)


def __getattr__(name: str):
    """Imported on first use: the strategies (xlt.protocol.strategies) are read by modules plan.py imports."""
    if name in _PUBLIC:
        import importlib

        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'xlt.protocol' has no attribute {name!r}")
