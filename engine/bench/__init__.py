"""``python -m engine bench``: how fast this machine is, each figure against the straightforward
approach measured in the same run. One module per benchmark:

* :mod:`.throughput`: training images/s, fast pipeline against the tutorials' DataLoader.
* :mod:`.accuracy`: validation accuracy after equal training time, fast preset against the
  classic recipe (both the presets themselves, each on its own :class:`LRSchedule`).
* :mod:`.peer`: the fast preset against the published airbench94 recipe (the optional
  ``airbench`` package) at a fraction of each recipe's epochs; benchmarks/vs_airbench.py runs
  it at full length.
* :mod:`.decode`: the first decode of an image archive, and loading it again from the cache.
* :mod:`.predict`: one photo at 0.3 / 3 / 12 megapixels to probabilities, a folder of photos,
  the forward pass.
* :mod:`.evaluation`: evaluating a checkpoint on its held-out images.


:mod:`.options` holds the command's options (no torch: ``python -m engine --help`` builds them),
:mod:`.driver` runs the parts and prints the report.
"""

from .options import PARTS, add_bench_arguments

__all__ = ["PARTS", "add_bench_arguments", "run_bench"]


def run_bench(args) -> int:
    from .driver import run_bench as run  # imports torch and every benchmark

    return run(args)
