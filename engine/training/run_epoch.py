"""One epoch of a training run: its batches (micro-batches, EMA, lookahead), progress events,
then validation, the best-model choice, early stopping and the epoch's checkpoints.

A mixin of the trainer's run (engine/training/trainer.py): it uses what the run's setup
(engine/training/run_setup.py) prepared.
"""

from __future__ import annotations

import math
import time

import torch
import torch.nn.functional as F

from ..device import autocast_context
from ..evaluation.metrics import evaluate_arrays
from .early_stop import improves, should_stop_early
from .events import BatchEnd, EpochEnd
from .head_mode import HeadOnly
from .run_checkpoints import TrainingFailed

__all__ = ["HEAD_SAVE_EVERY", "RunEpoch"]

HEAD_SAVE_EVERY = 10  # epochs between checkpoints of a classifier trained on cached features


class RunEpoch:
    """``_train_epoch`` and ``_end_epoch`` for the trainer's run (its model, batches and optimizer: the setup's)."""

    def _train_epoch(self, epoch: int) -> bool:
        """One epoch; False when stopped (the partial epoch is saved for resume)."""
        cfg, model = self.cfg, self.train_model
        self.batches.set_epoch(epoch)
        if self.whiten_bias is not None:  # no gradient: SGD leaves it (and its momentum) alone
            self.whiten_bias.requires_grad_(epoch < cfg.whiten_bias_epochs)
        model.train()
        steps = len(self.batches)
        loss_sum = torch.zeros((), device=self.device)
        correct = torch.zeros((), device=self.device, dtype=torch.long)
        seen = 0
        # Images and training seconds of this epoch from before a resume: rates count only time
        # spent training, never the skipped batches or the gap between the sessions.
        seen_before, seconds_before = 0, 0.0
        if self.partial and self.skip_steps:
            loss_sum += self.partial["loss_sum"]
            correct += int(self.partial["correct"])
            seen = seen_before = int(self.partial["seen"])
            seconds_before = self.partial.get("train_s")  # None: saved by a version that did not record it
        report_every = 0.0 if self.device.type == "cpu" else 0.25  # GPU: avoid a sync per batch
        chunk = self.chunk
        last_report, last_seen, t_first = time.perf_counter(), seen, None

        def partial_now() -> dict:
            trained = time.perf_counter() - t_first if t_first is not None else 0.0
            seconds = None if seconds_before is None else seconds_before + trained
            return {"loss_sum": float(loss_sum), "correct": int(correct), "seen": seen, "train_s": seconds}

        for step, (x, y) in enumerate(self.batches):
            if step < self.skip_steps:
                continue  # resuming mid-epoch: same batches, same augmentation, skipped
            if t_first is None:  # the first batch trained in this session starts its clocks
                t_first = last_report = time.perf_counter()
            if self.should_stop():
                self._save(epoch, step_in_epoch=step, partial=partial_now())
                return False
            global_step = epoch * steps + step
            lr = self.schedule.apply(self.optimizer, global_step)

            def forward_backward(net, x=x, y=y):
                self.optimizer.zero_grad(set_to_none=True)
                outs, step_loss = [], 0.0
                # micro_batch: chunks' gradients add up to the whole batch's (each chunk's mean
                # loss weighted by its share); one optimizer step follows either way.
                for xc, yc in zip(x.split(chunk), y.split(chunk)):
                    with autocast_context(self.device, self.amp_dtype):
                        out = net(xc)
                        loss = F.cross_entropy(out.float(), yc, label_smoothing=cfg.label_smoothing)
                        loss = loss * (len(yc) / len(y)) if len(yc) < len(y) else loss
                    self.scaler.scale(loss).backward()
                    outs.append(out.detach())
                    step_loss = step_loss + loss.detach()
                return (outs[0] if len(outs) == 1 else torch.cat(outs)), step_loss

            if self.step_model is not None:
                logits, loss = self.step_model.run(forward_backward)
            else:
                logits, loss = forward_backward(model)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            if self.ema is not None:
                self.ema.update(self.model)
            if self.lookahead is not None:
                self.lookahead.step(self.model, global_step + 1)
            loss_sum += loss.detach() * len(y)
            correct += (logits.argmax(1) == y).sum()
            seen += len(y)
            now = time.perf_counter()
            if now - last_report >= report_every or step == steps - 1:
                value = float(loss.detach())
                if not math.isfinite(value):
                    raise TrainingFailed(
                        f"loss became {value} at epoch {epoch + 1}, batch {step + 1}; "
                        "lower the learning rate or turn off fp16"
                    )
                ips = (seen - last_seen) * self.ctx.world_size / max(now - last_report, 1e-9)
                self.emit(BatchEnd(epoch + 1, step + 1, steps, global_step + 1, steps * cfg.epochs, value, lr, ips))
                if self.files:
                    self.files.batch(
                        {
                            "epoch": epoch + 1,
                            "step": step + 1,
                            "global_step": global_step + 1,
                            "loss": value,
                            "lr": lr,
                            "images_per_s": round(ips, 1),
                            "elapsed_s": round(self.elapsed(), 3),
                        }
                    )
                last_report, last_seen = now, seen
        self.skip_steps, self.partial = 0, None
        partial = partial_now()
        return self._end_epoch(epoch, partial, self._epoch_rate(epoch, partial, seen_before, t_first))

    def _epoch_rate(self, epoch: int, partial: dict, seen_before: int, t_first: float | None) -> float:
        """Images per second of the epoch's training, counting only work actually timed: the
        epoch's images over its training seconds (both sessions when it was resumed)."""
        seen, seconds = partial["seen"], partial["train_s"]
        if seconds is None and seen > seen_before:  # an older checkpoint: this session's batches only
            seen, seconds = seen - seen_before, time.perf_counter() - t_first
        if seconds:
            return seen * self.ctx.world_size / max(seconds, 1e-9)
        # Nothing left to time (an older checkpoint stopped during validation): the last rate measured.
        previous = self.history[-1].get("images_per_s") if self.history else None
        self.log(f"epoch {epoch + 1}: its training speed was not recorded before the stop; showing the previous one")
        return float(previous) if isinstance(previous, (int, float)) else 0.0

    def _saves_after(self, epoch: int, is_best: bool, val_acc) -> bool:
        """Checkpoints after every epoch, except for a classifier on cached features: its epochs
        take milliseconds and two checkpoint writes took 60 ms each (benchmarks/teach.py), so it
        saves every HEAD_SAVE_EVERY epochs, on a new best validation accuracy, and at the end (a
        stop still saves where it stopped)."""
        if not self.head_only:
            return True
        last = epoch + 1 == self.cfg.epochs or self.early_stop_epoch is not None
        return last or (is_best and val_acc is not None) or (epoch + 1) % HEAD_SAVE_EVERY == 0

    def _end_epoch(self, epoch: int, partial: dict, ips: float) -> bool:
        cfg = self.cfg
        # The loss is checked before each step, so the epoch's last step can still have broken the
        # weights: never save (or offer as "best") a model that is NaN. Same on every rank.
        self._check_finite(f"in epoch {epoch + 1}")
        train_loss = partial["loss_sum"] / max(partial["seen"], 1)
        train_acc = partial["correct"] / max(partial["seen"], 1)
        val_loss = val_acc = None
        if self.val_batches is not None:
            eval_model = self.ema.module if self.ema is not None else self.model
            result = evaluate_arrays(
                HeadOnly(eval_model) if self.head_only else eval_model,
                self.val_batches,
                self.ds.num_classes,
                0 if self.head_only else cfg.tta,  # features: the batches pair each view with its mirror
                self.amp_dtype,
                self.device,
                self.should_stop,
            )
            if result is None:  # stopped during validation: resume re-runs only the validation
                self._save(epoch, step_in_epoch=len(self.batches), partial=partial)
                return False
            val_loss, val_acc = result.loss, result.accuracy
        # A loss that overflowed means a diverged model even when its weights are still finite:
        # fail the run like a non-finite training loss, before anything is saved or marked best.
        for what, value in (("training", train_loss), ("validation", val_loss)):
            if value is not None and not math.isfinite(value):
                raise TrainingFailed(
                    f"{what} loss became {value} in epoch {epoch + 1}; the model diverged: "
                    "lower the learning rate (or turn off fp16)"
                )
        self.schedule.epoch_end(val_acc)
        # best.pt: the higher accuracy, a tie going to the lower loss (engine.training.early_stop).
        is_best = val_acc is None or improves(val_acc, val_loss, self.best_acc, self.best_loss)
        if val_acc is not None and is_best:
            self.best_acc, self.best_loss = val_acc, val_loss
        elapsed = self.elapsed()
        done = epoch + 1 - self.start_epoch
        eta = (time.perf_counter() - self.t0) / max(done, 1) * (cfg.epochs - epoch - 1)
        lr = cfg.lr * self.schedule.factor((epoch + 1) * len(self.batches) - 1)
        event = EpochEnd(
            epoch + 1, cfg.epochs, train_loss, train_acc, val_loss, val_acc, lr, elapsed, eta, ips, is_best
        )
        row = event.metrics  # the history's and metrics.jsonl's row: made from the event, one set of values
        self.history.append(row)
        if should_stop_early(self.history, cfg.early_stop_patience, cfg.epochs):
            self.early_stop_epoch = epoch + 1  # decided before saving, so last.pt records it
        if self._saves_after(epoch, is_best, val_acc):
            self._save(epoch + 1, step_in_epoch=0, partial=None, val_acc=val_acc, best=is_best)
        if self.files:
            self.files.epoch(row)
        self.emit(event)
        return True
