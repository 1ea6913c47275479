"""gui.background: engine work in a QThread, results and typed errors as signals in the GUI thread;
one current task per purpose; training events dispatched on their types, RunFinished once."""

from __future__ import annotations

import threading

import pytest

from gui.background import task as worker
from gui.background.current import CurrentTask
from gui.background.task import Task, TaskError
from gui.background.training_run import TrainingRun


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
    assert blocker.args == [TaskError("photos/: no such file or folder", None)]


def test_config_error_crosses_with_its_field(qtbot):
    import engine

    def fail(state):
        raise engine.ConfigError("device", "CUDA was requested but is not available")

    task = Task(fail)
    with qtbot.waitSignal(task.failed, timeout=10_000) as blocker:
        task.start()
    error = blocker.args[0]
    assert error.field == "device" and error.message == "device: CUDA was requested but is not available"
    assert task.error == error


def test_unexpected_error_is_a_readable_line_not_a_traceback(qtbot):
    def boom(state):
        raise KeyError("weights")

    task = Task(boom, name="classify")
    with qtbot.waitSignal(task.failed, timeout=10_000) as blocker:
        task.start()
    error = blocker.args[0]
    message = error.message
    assert error.field is None
    assert message == "Unexpected error in classify: KeyError: 'weights'"


def test_unexpected_error_with_a_long_text_is_one_short_line(qtbot):
    def deep(state):
        raise RecursionError("maximum recursion depth exceeded\n" + "  File x, line 1\n" * 50)

    task = Task(deep, name="load checkpoint")
    with qtbot.waitSignal(task.failed, timeout=10_000) as blocker:
        task.start()
    message = blocker.args[0].message
    assert message == "Unexpected error in load checkpoint: RecursionError: maximum recursion depth exceeded"


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


@pytest.mark.parametrize("kind", ["RunStarted", "BatchEnd", "EpochEnd", "LogMessage"])
def test_training_run_turns_events_into_typed_signals(qtbot, kind):
    import engine

    make = {
        "RunStarted": lambda: engine.RunStarted("m", 1, "CPU", ["a", "b"], 2, 1, 1, 0, 1, "/tmp"),
        "BatchEnd": lambda: engine.BatchEnd(1, 1, 1, 1, 1, 0.5, 0.1, 10.0),
        "EpochEnd": lambda: engine.EpochEnd(1, 1, 0.5, 0.5, None, None, 0.1, 1.0, 0.0, 10.0, True),
        "LogMessage": lambda: engine.LogMessage("info", "hello"),
    }
    run = TrainingRun(config=None, out_dir="/tmp")
    signals = {"RunStarted": run.started, "BatchEnd": run.batch, "EpochEnd": run.epoch, "LogMessage": run.log}
    seen = {name: [] for name in signals}
    for name, signal in signals.items():
        signal.connect(lambda *args, n=name: seen[n].append(args))
    run._on_event(make[kind]())
    assert {name: len(calls) for name, calls in seen.items()} == {name: int(name == kind) for name in signals}


def test_training_run_rejects_an_unknown_event():
    run = TrainingRun(config=None, out_dir="/tmp")
    with pytest.raises(TypeError, match="unexpected training event str"):
        run._on_event("BatchEnd")  # a name is not an event: dispatch is on types


def test_run_finished_arrives_exactly_once(qtbot, monkeypatch):
    import engine

    finished = engine.RunFinished("completed", "done", 1, None, None, None, "/tmp")

    def fake_train(config, out_dir, callback, stop, resume, reserve_ui_thread):
        callback(engine.LogMessage("info", "hello"))
        callback(finished)  # the engine reports the end through the callback and returns it too
        return finished

    monkeypatch.setattr(engine, "train", fake_train)
    run = TrainingRun(config=None, out_dir="/tmp")
    outcomes, logs = [], []
    run.finished.connect(outcomes.append)
    run.log.connect(lambda level, message: logs.append(message))
    with qtbot.waitSignal(run.done, timeout=10_000):
        run.start()
    assert outcomes == [finished] and run.outcome is finished
    assert logs == ["hello"]


def test_each_warning_reaches_the_window_once(qtbot, monkeypatch):
    """A warning the trainer reports as an event is also logged (marked ``reported_as_event``):
    the window shows it once. One that is only logged (no event) is shown too, once however
    often it repeats."""
    import logging

    import engine

    finished = engine.RunFinished("completed", "done", 1, None, None, None, "/tmp")
    log = logging.getLogger("engine.training.trainer")

    def fake_train(config, out_dir, callback, stop, resume, reserve_ui_thread):
        log.warning("early stopping is off", extra={"reported_as_event": True})  # as Trainer.log does
        callback(engine.LogMessage("warning", "early stopping is off"))
        for _ in range(3):
            logging.getLogger("engine.models").warning("no ImageNet weights: random initialisation")
        return finished

    monkeypatch.setattr(engine, "train", fake_train)
    run = TrainingRun(config=None, out_dir="/tmp")
    logs = []
    run.log.connect(lambda level, message: logs.append((level, message)))
    with qtbot.waitSignal(run.done, timeout=10_000):
        run.start()
    assert sorted(logs) == [
        ("warning", "early stopping is off"),
        ("warning", "no ImageNet weights: random initialisation"),
    ]


def _slow_value(state, value, release):
    release.wait(10)
    return value


def test_current_task_retires_the_previous_task_so_stale_results_never_arrive(qtbot):
    current = CurrentTask()
    release_first, release_second = threading.Event(), threading.Event()
    results = []
    first = current.start(_slow_value, "first", release_first)
    first.succeeded.connect(results.append)
    first.start()
    second = current.start(_slow_value, "second", release_second)
    second.succeeded.connect(results.append)
    second.start()
    assert first.state.is_interruption_requested()  # cancelled ...
    assert current.task is second and current.busy
    release_second.set()
    qtbot.waitUntil(lambda: second.done, timeout=10_000)
    release_first.set()  # ... and disconnected: the old result, arriving last, is never heard
    qtbot.waitUntil(lambda: first.done, timeout=10_000)
    qtbot.wait(50)
    assert results == ["second"] and first.result == "first"
    assert not current.busy


class _Node:
    pass


def _make_cyclic_garbage(state, n):
    """Allocate ``n`` two-object cycles in the worker; a weak reference to the last one goes back."""
    import weakref

    for _ in range(n):
        node = _Node()
        node.self = node  # a cycle: only the cyclic collector can free it
    return weakref.ref(node)


def test_garbage_is_collected_in_the_gui_thread_only(qtbot):
    """A worker's allocations never run the cyclic collector in the worker (Qt objects in
    cycles would die in the wrong thread); the GUI thread's timer frees the worker's garbage."""
    import gc

    from gui.background import gui_thread_gc

    assert gui_thread_gc.install() and not gc.isenabled()
    collections: list[int] = []

    def record(phase, info):
        if phase == "start":
            collections.append(threading.get_ident())

    gc.callbacks.append(record)
    try:
        task = Task(_make_cyclic_garbage, 50_000, name="garbage")  # 70x gen 0's threshold
        with qtbot.waitSignal(task.finished, timeout=60_000):
            task.start()
        ref = task.result
        qtbot.waitUntil(lambda: ref() is None, timeout=10 * gui_thread_gc.COLLECT_EVERY_MS)
    finally:
        gc.callbacks.remove(record)
    assert collections and set(collections) == {threading.get_ident()}


def test_gui_thread_collection_follows_pythons_thresholds(qtbot):
    import gc

    from gui.background import gui_thread_gc

    gui_thread_gc.install()
    gc.collect()
    assert gui_thread_gc.collect_if_due() is None  # nothing allocated: nothing to do
    garbage = [[] for _ in range(gc.get_threshold()[0] + 10)]
    assert gui_thread_gc.collect_if_due() == 0  # young objects past the threshold: generation 0 only
    del garbage
    seen = []
    task = Task(lambda state: seen.append(gui_thread_gc.collect_if_due()) or True, name="collect")
    with qtbot.waitSignal(task.finished, timeout=10_000):
        task.start()
    assert seen == [None]  # never from a worker


def test_a_big_import_in_a_worker_is_not_collected_meanwhile_and_is_frozen_after(qtbot):
    """While a worker runs lasting_imports() (torch._dynamo's import in the Teach tab), the GUI
    thread's collector waits (its collections would walk every new object, 50-200 ms stalls);
    afterwards what the import left is frozen, out of every later collection's walk."""
    import gc

    from gui.background import gui_thread_gc

    gui_thread_gc.install()
    gc.collect()
    inside, go_on = threading.Event(), threading.Event()
    kept = []

    def importing(state):
        with gui_thread_gc.lasting_imports():
            kept.extend([i] for i in range(gc.get_threshold()[0] * 3))  # like module state (tracked objects)
            inside.set()
            go_on.wait(10)
        return True

    task = Task(importing, name="import")
    task.start()
    try:
        assert inside.wait(10)
        assert gc.get_count()[0] > gc.get_threshold()[0]
        assert gui_thread_gc.collect_if_due() is None  # held while the worker imports
    finally:
        go_on.set()
    qtbot.waitUntil(lambda: task.done, timeout=10_000)
    # Frozen: in none of the generations a collection walks. (Counting gc.get_freeze_count() was
    # flaky: frozen objects of earlier tests that die meanwhile lower it.)
    walked = {id(o) for generation in range(3) for o in gc.get_objects(generation)}
    assert not any(id(d) in walked for d in kept)


def test_quitting_collects_the_last_garbage_in_the_gui_thread(qtbot, qapp):
    import weakref

    from gui.background import gui_thread_gc

    gui_thread_gc.install()
    node = _Node()
    node.self = node
    ref = weakref.ref(node)
    del node
    qapp.aboutToQuit.emit()  # what QApplication emits when its event loop is about to end
    assert ref() is None


def test_a_yielding_task_runs_nicer_than_the_gui_thread(qtbot):
    """Task.yielding: the worker's thread gets a higher nice value (Linux), the GUI thread's stays."""
    import os
    import sys

    from gui.background import task as task_module

    def nice(state):
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    plain, yielding = Task(nice, name="plain"), Task(nice, name="yielding")
    yielding.yielding = True
    for t in (plain, yielding):
        t.start()
    qtbot.waitUntil(lambda: plain.done and yielding.done, timeout=10_000)
    assert plain.result == mine
    if sys.platform.startswith("linux"):
        assert yielding.result == min(mine + task_module.YIELDING_NICE, 19)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == mine


def test_no_qt_object_moves_between_threads():
    """A worker that handed itself back to the GUI thread with moveToThread deadlocked against
    the GUI thread (a CI run hung for 67 minutes; gui/background/task.py _Worker): workers are
    QThread subclasses instead, and nothing in the app calls moveToThread."""
    import ast
    from pathlib import Path

    calls = []
    for path in sorted((Path(__file__).resolve().parents[1] / "gui").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr == "moveToThread":
                calls.append(f"{path.name}:{node.lineno}")
    assert calls == []
