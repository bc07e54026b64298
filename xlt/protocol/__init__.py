"""The protocol: what is trained on what, for every strategy, N, seed, target and method of a config.

- plan.py     every check before the first write, and the runs a config asks for
- context.py  what a run needs, loaded once per experiment
- stages.py   one fit_stage for every stage; source stages trained once per seed and reused
- strategies/ one file per strategy (target-only, zero-, few-, full-shot, joint, self-training, ...)
- resume.py   what an output folder already holds (and older stores' run identities)
- run.py      each run trained, scored on its test split and stored in one transaction

The protocol decides what to train; methods decide how; the evaluator never knows how a model was trained.
"""
from xlt.protocol.plan import Plan, check_experiment
from xlt.protocol.run import run_experiment

__all__ = ["Plan", "check_experiment", "run_experiment"]
