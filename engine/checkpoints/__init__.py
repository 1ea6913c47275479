"""Checkpoints: the file ``format`` (save, load, rebuild the model), the ``checks`` a file passes
before it is unpickled, and ``export`` to ONNX, TorchScript and safetensors (``export_formats``:
which are available, imports nothing heavy)."""
