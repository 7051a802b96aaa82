"""Data the assignments use, generated deterministically or loaded from `datasets/`."""
