"""Cross-lingual alignment of sentence representations: parallel sentence pairs (Tatoeba, a parallel
dataset's training rows, or your own files), maps from a target language's embedding space into the source
language's (orthogonal Procrustes, mean-centering), and retrieval accuracy to measure what a map did."""
