"""Mixed precision on a CPU: "auto" means bf16 autocast only where it is faster.

On CPUs with native bf16 (AMX, AVX512-BF16) most convolutions run about twice as fast in bf16,
but EfficientNet-Lite0's depthwise convolutions ran 17x slower (0.3 against 5 images/s). Every
place that picks a precision (training, the learning-rate finder, evaluation, benchmarks) must
ask with the model, or the photo model's evaluation crawls on exactly the fastest CPUs.
"""

from __future__ import annotations

import torch
from conftest import write_image_folder
from torch import nn

import engine
import engine.device


def test_auto_is_bf16_on_a_fast_bf16_cpu_except_for_models_slow_in_it(monkeypatch):
    monkeypatch.setattr(engine.device, "cpu_has_fast_bf16", lambda: True)
    cpu = torch.device("cpu")
    slow = nn.Linear(2, 2)
    slow.cpu_bf16_slow = True
    assert engine.device.autocast_dtype(cpu, "auto", nn.Linear(2, 2)) == torch.bfloat16
    assert engine.device.autocast_dtype(cpu, "auto", slow) is None
    assert engine.device.autocast_dtype(cpu, "bf16", slow) == torch.bfloat16  # asked for by name: given
    monkeypatch.setattr(engine.device, "cpu_has_fast_bf16", lambda: False)
    assert engine.device.autocast_dtype(cpu, "auto", nn.Linear(2, 2)) is None


def test_evaluating_the_photo_model_stays_fp32_on_a_fast_bf16_cpu(tmp_path, monkeypatch):
    monkeypatch.setattr(engine.device, "cpu_has_fast_bf16", lambda: True)
    folder = write_image_folder(tmp_path / "photos", classes=["cat", "dog"], per_class=2, size=64)
    report = engine.evaluate_checkpoint(engine.default_checkpoint_path(), str(folder), device="cpu")
    assert report.precision == "fp32" and len(report.result.labels) == 4
