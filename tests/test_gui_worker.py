"""gui.worker: engine work in a QThread, results and errors as signals in the GUI thread."""

from __future__ import annotations

import threading

import pytest

from gui import worker
from gui.worker import Task


def _producer(state, n):
    for i in range(n):
        state.set_partial_result(i)
        state.set_progress((i + 1) / n, f"{i + 1}/{n}")
    return threading.current_thread().name


def test_task_result_partials_in_order_and_in_gui_thread(qtbot):
    gui_thread = threading.current_thread()
    seen, threads = [], []
    task = Task(_producer, 2000, name="producer")
    task.partial.connect(lambda v: (seen.append(v), threads.append(threading.current_thread())))
    with qtbot.waitSignal(task.finished, timeout=20_000):
        task.start()
    assert seen == list(range(2000))  # none dropped, none reordered, though coalesced into few wake-ups
    assert all(t is gui_thread for t in threads)
    assert task.result != gui_thread.name  # the function ran in the worker thread
    assert not task.is_running() and task.done


def test_engine_error_becomes_its_one_line_message(qtbot):
    import engine

    def fail(state):
        raise engine.DataError("photos/: no such file or folder")

    task = Task(fail)
    with qtbot.waitSignal(task.failed, timeout=10_000) as blocker:
        task.start()
    assert blocker.args == ["photos/: no such file or folder"]


def test_unexpected_error_is_a_readable_line_not_a_traceback(qtbot):
    def boom(state):
        raise KeyError("weights")

    task = Task(boom)
    with qtbot.waitSignal(task.failed, timeout=10_000) as blocker:
        task.start()
    message = blocker.args[0]
    assert message.startswith("KeyError") and "\n" not in message and "Traceback" not in message


def test_cancel_reaches_the_task_and_stop_all_joins_threads(qtbot):
    started = threading.Event()

    def wait_for_stop(state):
        started.set()
        while not state.is_set():  # the engine's stop-flag protocol
            threading.Event().wait(0.005)
        return "stopped"

    task = Task(wait_for_stop).start()
    assert started.wait(10)
    assert task in worker.active_tasks()
    assert worker.stop_all(timeout_ms=10_000)
    assert not task.is_running()
    qtbot.waitUntil(lambda: task.done, timeout=5_000)
    assert task.result == "stopped"


@pytest.mark.parametrize("kind", ["RunStarted", "BatchEnd", "EpochEnd", "LogMessage", "RunFinished"])
def test_training_run_turns_events_into_typed_signals(qtbot, kind):
    import engine

    make = {
        "RunStarted": lambda: engine.RunStarted("m", 1, "CPU", ["a", "b"], 2, 1, 1, 0, 1, "/tmp"),
        "BatchEnd": lambda: engine.BatchEnd(1, 1, 1, 1, 1, 0.5, 0.1, 10.0),
        "EpochEnd": lambda: engine.EpochEnd(1, 1, 0.5, 0.5, None, None, 0.1, 1.0, 0.0, 10.0, True, {"epoch": 1}),
        "LogMessage": lambda: engine.LogMessage("info", "hello"),
        "RunFinished": lambda: engine.RunFinished("completed", "done", 1, None, None, None, "/tmp"),
    }
    run = worker.TrainingRun(config=None, out_dir="/tmp")
    signal = {
        "RunStarted": run.started,
        "BatchEnd": run.batch,
        "EpochEnd": run.epoch,
        "LogMessage": run.log,
        "RunFinished": run.finished,
    }[kind]
    with qtbot.waitSignal(signal, timeout=1_000):
        run._on_event(make[kind]())
