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
    "TRAIN_SETTINGS": "train_settings",
    "TrainSetting": "train_settings",
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
    "new_run_dir": "training.run_folder",
    "holds_run": "training.run_folder",
    "run_checkpoint": "training.run_folder",
    "read_batch_history": "training.run_files",
    "compile_available": "training.compile",
    "compile_unavailable_reason": "training.compile",
    # checkpoints, evaluation, prediction
    "Checkpoint": "checkpoints.format",
    "load_checkpoint": "checkpoints.format",
    "evaluate_checkpoint": "evaluation.run",
    "SPLITS": "splits",
    "Predictor": "inference.predict",
    "Prediction": "inference.prediction",
    "expand_inputs": "inference.predict",
    "LOW_CONFIDENCE": "inference.prediction",
    "PHOTO_VIEWS": "imaging.photo",
    "DEFAULT_PHOTO_VIEW": "imaging.photo",
    "DEFAULT_PHOTO_TTA": "imaging.photo",
    "PHOTO_VIEW_NAMES": "imaging.photo",
    "UnknownDetector": "inference.ood",
    "calibrate_unknown": "inference.ood_calibration",
    # teach: your own classes from a few photos each
    "TeachProject": "teach.project",
    "ProjectClass": "teach.project",
    "ProjectPhoto": "teach.project",
    "AddReport": "teach.project",
    "project_features": "teach.project",
    "warm_up_teach": "teach.project",
    "teach_config": "teach.project",
    "guidance": "teach.project",
    "MIN_PHOTOS": "teach.project",
    "PROJECT_FILE": "teach.project",
    # machine and files
    "detect_device": "device",
    "DeviceInfo": "device",
    "set_thread_budget": "device",
    "default_checkpoint_path": "paths",
    "bundled_checkpoint_paths": "paths",
    "resources_dir": "paths",
    "runs_dir": "paths",
    "data_dir": "paths",
    "cache_dir": "paths",
    "IMAGE_EXTENSIONS": "imaging.decode",
    "format_size": "text",
    "with_article": "text",
    "plural": "text",
    "TTA_NAMES": "text",
    # runs, LR finder, export, explain, model summary
    "RUN_STATUSES": "runs.catalog",
    "RunSummary": "runs.catalog",
    "RunDetails": "runs.catalog",
    "list_runs": "runs.catalog",
    "summarize_run": "runs.catalog",
    "read_run": "runs.catalog",
    "rename_run": "runs.catalog",
    "is_run_folder": "runs.catalog",
    "train_command": "runs.command",
    "resume_command": "runs.command",
    "format_command": "runs.command",
    "lr_find": "training.lr_range",
    "LRFindResult": "training.lr_range",
    "EXPORT_FORMATS": "checkpoints.export_formats",
    "export_formats": "checkpoints.export_formats",
    "default_export_format": "checkpoints.export_formats",
    "export_checkpoint": "checkpoints.export",
    "ExportResult": "checkpoints.export",
    "load_safetensors_checkpoint": "checkpoints.export",
    "explain_files": "inference.explain",
    "ExplainResult": "inference.explain",
    "overlay_heatmap": "inference.explain",
    "model_summary": "models.summary",
    "ModelSummary": "models.summary",
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
