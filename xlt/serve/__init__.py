"""Prediction from saved models (command line now; the HTTP server builds on the same Predictor)."""
