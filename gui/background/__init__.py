"""Everything that runs off the GUI thread, and nothing that draws: the Task/TaskState
adapter (:mod:`.task`), the one-current-task helper (:mod:`.current`), the training run
(:mod:`.training_run`), the engine calls (:mod:`.engine_calls`, :mod:`.prediction_calls`,
:mod:`.run_calls`) and QImage helpers
(:mod:`.qimages`). No module here imports ``PySide6.QtWidgets`` (checked by lint-imports)."""
