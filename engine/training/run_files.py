"""What a run writes beside its checkpoints: config.json, metrics.jsonl, metrics.csv,
batches.jsonl (one line per reported batch, for redrawing per-batch curves) and TensorBoard.

Every JSON file is strict JSON: a NaN or infinite value is written as ``null``.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
from pathlib import Path

__all__ = ["BATCHES_FILE", "BATCH_COLUMNS", "METRIC_COLUMNS", "RunFiles", "json_safe", "read_batch_history"]

_logger = logging.getLogger(__name__)
METRIC_COLUMNS = ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "elapsed_s", "images_per_s"]
BATCHES_FILE = "batches.jsonl"
BATCH_COLUMNS = ["epoch", "step", "global_step", "loss", "lr", "images_per_s", "elapsed_s"]


def json_safe(obj):
    """``obj`` with every non-finite float replaced by None (JSON has no NaN)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def _dumps(obj) -> str:
    return json.dumps(json_safe(obj), allow_nan=False)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def read_batch_history(run_dir: str | Path, up_to_step: int | None = None) -> list[dict]:
    """The per-batch rows in ``run_dir/batches.jsonl`` (oldest first), skipping damaged lines;
    with ``up_to_step``, only rows at or before that global step."""
    rows = []
    try:
        lines = (Path(run_dir) / BATCHES_FILE).read_text().splitlines()
    except OSError:
        return rows
    for line in lines:
        try:
            row = json.loads(line)
        except ValueError:  # a line cut short by a crash
            continue
        if isinstance(row, dict) and isinstance(row.get("global_step"), int):
            if up_to_step is None or row["global_step"] <= up_to_step:
                rows.append(row)
    return rows


class RunFiles:
    def __init__(self, out: Path):
        self.out = Path(out)
        self.rows: list[dict] = []
        self.batch_rows: list[dict] = []
        self._tb = None
        self._batches = None

    def start(self, config, history: list[dict], resume_step: int | None = None, source: Path | None = None) -> None:
        """Write the config and the metrics of earlier epochs. ``resume_step`` (the global
        step a resumed run continues after) keeps the per-batch rows up to it, read from
        ``source`` (the resumed run's folder; default this one); a new run starts afresh."""
        self.out.mkdir(parents=True, exist_ok=True)
        _atomic_write(self.out / "config.json", json.dumps(json_safe(config.to_dict()), indent=2) + "\n")
        self.rows = list(history)
        self._write_metrics()
        # Rows past the resume point were trained again after the checkpoint (a crash after
        # it): drop them so the file holds each step once.
        self.batch_rows = read_batch_history(source or self.out, resume_step) if resume_step is not None else []
        _atomic_write(self.out / BATCHES_FILE, "".join(_dumps(r) + "\n" for r in self.batch_rows))
        self._batches = open(self.out / BATCHES_FILE, "a")  # open for the whole run: one line per batch
        try:
            from torch.utils.tensorboard import SummaryWriter  # needs the tensorboard package

            self._tb = SummaryWriter(str(self.out / "tensorboard"))
        except Exception:  # ImportError or a broken install: TensorBoard is optional
            self._tb = None

    def batch(self, row: dict) -> None:
        if self._batches is None:
            return
        self._batches.write(_dumps(row) + "\n")
        self._batches.flush()

    def epoch(self, row: dict) -> None:
        self.rows.append(row)
        self._write_metrics()
        if self._tb is not None:
            for key, value in row.items():
                if key != "epoch" and value is not None:
                    self._tb.add_scalar(key, value, row["epoch"])
            self._tb.flush()

    def close(self) -> None:
        """Close batches.jsonl and the TensorBoard writer (its thread would outlive the run in
        the long-running app); safe to call twice."""
        if self._batches is not None:
            try:
                self._batches.close()
            except OSError:
                pass
            self._batches = None
        if self._tb is not None:
            tb, self._tb = self._tb, None
            try:
                tb.close()
            except Exception:  # a full disk while flushing: the run's own files matter, not this
                _logger.warning("could not close the TensorBoard log in %s", self.out, exc_info=True)

    def _write_metrics(self) -> None:
        # Rewritten whole each epoch from the run's history (earlier epochs included when
        # resuming), so a resumed run keeps its rows and never holds duplicates.
        _atomic_write(self.out / "metrics.jsonl", "".join(_dumps(r) + "\n" for r in self.rows))
        path = self.out / "metrics.csv"
        tmp = path.with_name(".metrics.csv.tmp")
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=METRIC_COLUMNS, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(self.rows)
        os.replace(tmp, path)
