"""Evaluation runs: options, the batch loop, resumable state, torchrun, the results file."""
