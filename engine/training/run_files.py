"""What a run writes beside its checkpoints: config.json, metrics.jsonl, metrics.csv, TensorBoard."""

from __future__ import annotations

import csv
import json
import logging
import os
from pathlib import Path

__all__ = ["METRIC_COLUMNS", "RunFiles"]

_logger = logging.getLogger(__name__)
METRIC_COLUMNS = ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "elapsed_s", "images_per_s"]


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


class RunFiles:
    def __init__(self, out: Path):
        self.out = Path(out)
        self.rows: list[dict] = []
        self._tb = None

    def start(self, config, history: list[dict]) -> None:
        """Write the config; rewrite the metrics of earlier epochs when resuming."""
        self.out.mkdir(parents=True, exist_ok=True)
        _atomic_write(self.out / "config.json", config.to_json() + "\n")
        self.rows = list(history)
        self._write_metrics()
        try:
            from torch.utils.tensorboard import SummaryWriter  # needs the tensorboard package

            self._tb = SummaryWriter(str(self.out / "tensorboard"))
        except Exception:  # ImportError or a broken install: TensorBoard is optional
            self._tb = None

    def epoch(self, row: dict) -> None:
        self.rows.append(row)
        self._write_metrics()
        if self._tb is not None:
            for key, value in row.items():
                if key != "epoch" and value is not None:
                    self._tb.add_scalar(key, value, row["epoch"])
            self._tb.flush()

    def _write_metrics(self) -> None:
        # Rewritten whole each epoch (tiny files), so a resumed run never holds duplicates.
        _atomic_write(self.out / "metrics.jsonl", "".join(json.dumps(r) + "\n" for r in self.rows))
        path = self.out / "metrics.csv"
        tmp = path.with_name(".metrics.csv.tmp")
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=METRIC_COLUMNS, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(self.rows)
        os.replace(tmp, path)
