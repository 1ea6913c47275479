"""CIFAR Studio's engine: data, models, training, checkpoints, evaluation and prediction.

This package never imports Qt. Its public API is what this module exports; the GUI uses
nothing else. Names are imported lazily (PEP 562) so ``import engine`` is instant and torch
loads on first use, after the window is on screen.
"""

from __future__ import annotations

import importlib

from ._version import __version__

_EXPORTS = {
    # configuration
    "TrainConfig": "config",
    "AUTO_MICRO_BATCH": "config",
    "CPU_MICRO_BATCH": "config",
    "OPTIMIZERS": "config",
    "SCHEDULES": "config",
    "PRECISIONS": "config",
    "DEVICES": "config",
    "PRESETS": "presets",
    "Preset": "presets",
    "preset_config": "presets",
    "recipe_config": "presets",
    "same_recipe": "presets",
    "DATA_SETTINGS": "presets",
    # errors
    "EngineError": "errors",
    "Cancelled": "errors",
    "ConfigError": "errors",
    "DataError": "errors",
    "CheckpointError": "errors",
    "ImageError": "errors",
    "DiskFull": "errors",
    # data
    "load_dataset": "data.sources",
    "DataSpec": "data.sources",
    "BUILTIN_DATASETS": "data.sources",
    "find_default_data": "data.sources",
    "Dataset": "data.dataset",
    "Augment": "config",
    # models
    "list_models": "models",
    "create_model": "models",
    "get_model_info": "models",
    "count_parameters": "models",
    "parameter_count": "models",
    "ModelInfo": "models",
    "download_weights": "models.weights_download",
    "weights_status": "models.weights_download",
    "list_weights": "models.weights_download",
    "WeightsStatus": "models.weights_download",
    "WEIGHTS_URL_ENV": "models.weights_download",
    # training
    "train": "training",
    "StopFlag": "training",
    "schedule_preview": "training",
    "RunStarted": "training",
    "BatchEnd": "training",
    "EpochEnd": "training",
    "LogMessage": "training",
    "RunFinished": "training",
    "find_resumable": "training.run_folder",
    "run_in_progress": "training.run_folder",
    "read_batch_history": "training.run_files",
    "compile_available": "training.compile",
    "compile_unavailable_reason": "training.compile",
    # checkpoints, evaluation, prediction
    "Checkpoint": "checkpoint",
    "load_checkpoint": "checkpoint",
    "evaluate_checkpoint": "evaluation_run",
    "SPLITS": "splits",
    "Predictor": "predict",
    "Prediction": "predict",
    "expand_inputs": "predict",
    "LOW_CONFIDENCE": "predict",
    "PHOTO_VIEWS": "photo",
    "DEFAULT_PHOTO_VIEW": "photo",
    "DEFAULT_PHOTO_TTA": "photo",
    "PHOTO_VIEW_NAMES": "photo",
    "UnknownDetector": "ood",
    "calibrate_unknown": "ood_calibration",
    # teach: your own classes from a few photos each
    "TeachProject": "teach",
    "ProjectClass": "teach",
    "ProjectPhoto": "teach",
    "AddReport": "teach",
    "project_features": "teach",
    "warm_up_teach": "teach",
    "teach_config": "teach",
    "guidance": "teach",
    "MIN_PHOTOS": "teach",
    "PROJECT_FILE": "teach",
    # machine and files
    "detect_device": "device",
    "DeviceInfo": "device",
    "set_thread_budget": "device",
    "default_checkpoint_path": "paths",
    "resources_dir": "paths",
    "runs_dir": "paths",
    "data_dir": "paths",
    "cache_dir": "paths",
    "IMAGE_EXTENSIONS": "images",
    "format_size": "text",
    "with_article": "text",
    "plural": "text",
    "TTA_NAMES": "text",
    # runs, LR finder, export, explain, model summary
    "RUN_STATUSES": "runs",
    "RunSummary": "runs",
    "RunDetails": "runs",
    "list_runs": "runs",
    "summarize_run": "runs",
    "read_run": "runs",
    "rename_run": "runs",
    "is_run_folder": "runs",
    "train_command": "run_command",
    "resume_command": "run_command",
    "format_command": "run_command",
    "lr_find": "lr_range",
    "LRFindResult": "lr_range",
    "EXPORT_FORMATS": "export_support",
    "export_formats": "export_support",
    "default_export_format": "export_support",
    "export_checkpoint": "export",
    "ExportResult": "export",
    "load_safetensors_checkpoint": "export",
    "explain_files": "explain",
    "ExplainResult": "explain",
    "overlay_heatmap": "explain",
    "model_summary": "summary",
    "ModelSummary": "summary",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
