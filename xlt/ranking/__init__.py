"""Which source languages to transfer from: features of each (source, target) pair, a zero-data heuristic
and a learned ranker (LANGRANK-style, Lin et al., 2019), and their evaluation (xlt rank-sources)."""
from xlt.ranking.features import PAIR_FEATURES, pair_features
from xlt.ranking.rankers import heuristic_scores, train_ranker

__all__ = ["PAIR_FEATURES", "pair_features", "heuristic_scores", "train_ranker"]
