"""Inference: where a photo becomes probabilities. ``predict`` (the Predictor: decode, forward,
TTA, softmax), ``ood`` and ``ood_calibration`` (the "none of the classes" flag), ``looks_like``
(what a flagged photo shows, in ImageNet words), ``gradcam`` and ``explain`` (heatmaps)."""
