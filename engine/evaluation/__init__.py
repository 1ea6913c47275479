"""Evaluation: ``metrics`` (test-time augmentation, accuracy, per-class metrics, confusion matrix
over arrays) and ``run`` (a checkpoint on a data set split, as ``evaluate`` runs it)."""
