"""Checks of explanations against ground truth (the synthetic dataset's planted attributes)."""
