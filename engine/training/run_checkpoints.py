"""What a training run writes between epochs: ``best.pt``/``last.pt``, each after the NaN guard.

A mixin of the trainer's run (engine/training/trainer.py): it reads the run's model, EMA,
optimizer, schedule and history, and never changes them.
"""

from __future__ import annotations

import torch

from ..checkpoints.format import Checkpoint, save_checkpoint
from ..checkpoints.weight_checks import tensor_finite
from ..errors import EngineError

__all__ = ["RunCheckpoints", "TrainingFailed"]


class TrainingFailed(EngineError):
    """The run cannot go on (NaN loss, out of memory...); the message says why."""


class RunCheckpoints:
    """``_check_finite`` and ``_save`` for the trainer's run (its attributes are set by the run)."""

    def _checked_tensors(self) -> list[torch.Tensor]:
        """The tensors training can change, listed once per run (walking a 200-module backbone
        every epoch took longer than training its classifier).

        Buffers too: a batch norm's running statistics can overflow while the weights do not.
        Frozen parameters (a pretrained backbone) cannot change: 4.7 M sums per epoch saved. A
        parameter frozen later (fastnet's whitening bias) stays listed: checking it is harmless.
        """
        if getattr(self, "_finite_tensors", None) is None:
            models = [self.model] + ([self.ema.module] if self.ema is not None else [])
            self._finite_tensors = [
                t
                for m in models
                for t in (*(p for p in m.parameters() if p.requires_grad), *m.buffers())
                if t.is_floating_point()
            ]
        return self._finite_tensors

    def _check_finite(self, where: str) -> None:
        params = [t.detach() for t in self._checked_tensors()]
        # One sync: the sums are finite exactly when no weight is NaN/inf (or a sum overflowed).
        if not bool(torch.stack([p.float().sum() for p in params]).isfinite().all()) and not all(
            tensor_finite(p) for p in params
        ):
            raise TrainingFailed(f"weights became NaN or infinite {where}; lower the learning rate (or turn off fp16)")

    def _save(self, epochs_done: int, step_in_epoch: int, partial, val_acc=None, best=False) -> None:
        if not self.ctx.is_main:
            return
        if step_in_epoch:  # a stop mid-epoch: the epoch-end check has not seen these weights
            self._check_finite(f"during epoch {epochs_done + 1}")
        eval_model = self.ema.module if self.ema is not None else self.model
        h, w, c = self.ds.image_shape
        ckpt = Checkpoint(
            path=None,
            arch=self.cfg.model,
            arch_args=dict(self.cfg.model_args),
            state_dict={k: v.detach().cpu() for k, v in eval_model.state_dict().items()},
            classes=list(self.ds.classes),
            mean=self.mean,
            std=self.std,
            input_size=(h, w),
            channels=c,
            config=self.cfg.to_dict(),
            history=list(self.history),
            epoch=epochs_done,
            best_val_acc=self.best_acc,
            val_acc=val_acc,
            data_stats=getattr(self, "data_stats", None),
        )
        if best:
            save_checkpoint(ckpt, self.out / "best.pt")
        ckpt.train_state = {
            "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "lookahead": self.lookahead.state_dict() if self.lookahead is not None else None,
            "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else {},
            "step_in_epoch": step_in_epoch,
            "partial": partial,
            "torch_rng": torch.get_rng_state(),
            "elapsed_s": self.elapsed(),
            "early_stopped": self.early_stop_epoch is not None,
        }
        save_checkpoint(ckpt, self.out / "last.pt")
