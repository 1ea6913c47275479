"""Everything that runs off the GUI thread, and nothing that draws: the Task/TaskState
adapter (:mod:`.task`), the one-current-task helper (:mod:`.current`), the training run
(:mod:`.training_run`), the engine calls (:mod:`.engine_calls`, :mod:`.prediction_calls`,
:mod:`.run_calls`), QImage helpers (:mod:`.qimages`) and garbage collection kept in the GUI
thread (:mod:`.gui_thread_gc`). No module here imports ``PySide6.QtWidgets`` (checked by lint-imports)."""
