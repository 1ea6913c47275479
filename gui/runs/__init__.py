"""The Runs tab: every training run on disk, their curves overlaid, and what to do with a run."""
