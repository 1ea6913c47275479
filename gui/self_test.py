"""``--self-test``: classify the sample images shipped in resources/samples/ with the default
model and compare with resources/samples/expected.json; one line of output, exit status 0/1.

No window and no Qt: it must work in a frozen, windowed build on a machine without a display,
which is where it is most useful (checking a bundle). Output goes through the safe writer.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from .output import write_line

# Imports inside functions: --self-test imports the engine itself; the normal start-up never runs
# it.

__all__ = ["run_self_test"]

_logger = logging.getLogger(__name__)


class _Failed(Exception):
    pass


def _expected(samples: Path) -> dict[str, str]:
    if not samples.is_dir():
        raise _Failed(f"no sample images: {samples} is missing")
    path = samples / "expected.json"
    if not path.is_file():
        raise _Failed(f"no {path.name} in {samples} (file name -> expected class)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise _Failed(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict) or not data or not all(isinstance(v, str) for v in data.values()):
        raise _Failed(f"{path} must map image file names to class names")
    return {str(k): v for k, v in data.items()}


def _check(checkpoint: str | None, samples_dir: str | None) -> str:
    import engine

    samples = Path(samples_dir) if samples_dir else engine.resources_dir() / "samples"
    expected = _expected(samples)
    model = Path(checkpoint) if checkpoint else engine.default_checkpoint_path()
    if not model.is_file():
        raise _Failed(f"no {'default model' if checkpoint is None else 'checkpoint'} at {model}")
    device = engine.detect_device()
    predictor = engine.Predictor(model, device=device.torch_device)
    predictions = predictor.predict_paths([samples / name for name in expected])
    wrong = []
    for (name, want), p in zip(expected.items(), predictions, strict=False):
        if p.error:
            wrong.append(f"{name}: {p.error}")
        elif p.top != want:
            wrong.append(f"{name}: expected {want}, got {p.top} ({p.confidence:.0%})")
    n = len(expected)
    if wrong:
        raise _Failed(
            f"{len(wrong)}/{n} sample images not classified as expected with {model.name}: " + "; ".join(wrong)
        )
    which = "default model" if checkpoint is None else "model"
    return f"{which} {model.name}, {n}/{n} sample images classified as expected ({device.name})"


def run_self_test(checkpoint: str | None = None, samples: str | None = None) -> int:
    try:
        summary = _check(checkpoint, samples)
    except _Failed as exc:
        write_line(f"self-test failed: {exc}", error=True)
        return 1
    except Exception as exc:  # EngineError (bad checkpoint...) or anything unexpected: one line, no traceback
        import engine

        if not isinstance(exc, engine.EngineError):
            _logger.debug("self-test error", exc_info=exc)
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        write_line(f"self-test failed: {first}", error=True)
        return 1
    write_line(f"self-test passed: {summary}")
    return 0
