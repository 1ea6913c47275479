"""Measure a built bundle: its size, the time to a visible window and the time to the first prediction.

    python packaging/measure.py [--bundle packaging/dist/CIFARStudio] [--runs 3] [--json out.json]

Runs the bundle's executable (no Python needed; this script only drives it), each run with its own
settings, log and cache folders in a temporary directory so nothing of the user's is read or written:

* size: ``du`` of the bundle folder and its biggest parts;
* time to a visible window: the app started with no arguments under a virtual X display (Xvfb,
  when installed; else Qt's offscreen platform) with ``CIFAR_STUDIO_REPORT_STARTUP=1``, which makes
  it print ``window-visible <seconds>`` on stderr, counted from ``CIFAR_STUDIO_LAUNCH_TIME`` (set
  here just before the launch); the process is stopped once the line appears;
* time to the first prediction: wall time of ``--self-test`` (start, load the default model,
  classify the sample photos, exit) and of ``--screenshot OUT.png --tab predict cat-chelsea.jpg``
  (start, classify the photo passed on the command line, render the window, exit).

Each measurement runs ``--runs`` times; the first run is reported apart from the median of the
others, because only it may read the bundle's 4 GB from disk (when nothing ran it recently); the
others find it in the file cache. ``tests/test_bundle.py`` reuses the helpers here.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BUNDLE = ROOT / "packaging" / "dist" / "CIFARStudio"
SAMPLE_PHOTO = ROOT / "resources" / "samples" / "cat-chelsea.jpg"
EXE_NAME = "CIFARStudio"

# Variables that would let the bundle see the development environment; the bundle must not need them.
_DEV_VARIABLES = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP", "PYTHONUSERBASE")


# ---------------------------------------------------------------------------- running the bundle
def executable(bundle: Path) -> Path:
    """The bundle's executable (Linux, Windows or macOS layout)."""
    for candidate in (bundle / EXE_NAME, bundle / f"{EXE_NAME}.exe", bundle / "Contents" / "MacOS" / EXE_NAME):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"no {EXE_NAME} executable in {bundle}")


def isolated_env(folder: Path, **extra: str) -> dict[str, str]:
    """The environment for one run: private settings, log, cache and data folders under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in _DEV_VARIABLES}
    env.update(
        {
            "CIFAR_STUDIO_SETTINGS": str(folder / "settings.ini"),
            "CIFAR_STUDIO_LOG": str(folder / "cifar-studio.log"),
            "CIFAR_STUDIO_CACHE": str(folder / "cache"),
            "CIFAR_STUDIO_DATA": str(folder / "data"),
        }
    )
    env.update(extra)
    return env


@contextlib.contextmanager
def virtual_display(kind: str = "auto") -> Iterator[dict[str, str]]:
    """Environment variables for a display: a private Xvfb server, or Qt's offscreen platform.

    ``kind``: ``xvfb`` (required), ``offscreen``, or ``auto`` (Xvfb when installed). The yielded
    dict has ``DISPLAY`` and ``QT_QPA_PLATFORM=xcb``, or ``QT_QPA_PLATFORM=offscreen``.
    """
    xvfb = shutil.which("Xvfb")
    if kind == "offscreen" or (kind == "auto" and xvfb is None) or sys.platform != "linux":
        yield {"QT_QPA_PLATFORM": "offscreen"}
        return
    if xvfb is None:
        raise FileNotFoundError("Xvfb is not installed (apt-get install xvfb)")
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen(
        [xvfb, "-displayfd", str(write_fd), "-screen", "0", "1440x900x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    try:
        with os.fdopen(read_fd) as pipe:
            number = pipe.readline().strip()  # Xvfb writes its display number once it accepts clients
        if not number:
            raise RuntimeError("Xvfb did not start")
        yield {"DISPLAY": f":{number}", "QT_QPA_PLATFORM": "xcb"}
    finally:
        _stop(server, grace_s=10)


def _stop(process: subprocess.Popen, grace_s: float) -> None:
    """Ask ``process`` to exit; kill it if it is still running after ``grace_s`` seconds."""
    process.terminate()
    try:
        process.wait(grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def timed_run(cmd: list[str], env: dict[str, str], timeout: float = 300) -> tuple[subprocess.CompletedProcess, float]:
    """Run ``cmd`` to completion; returns the result (text output captured) and its wall time in seconds."""
    start = time.perf_counter()
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    return result, time.perf_counter() - start


def time_to_report(
    exe: Path, env: dict[str, str], report: str, args: tuple[str, ...] = (), timeout: float = 180, on_seen=None
) -> tuple[float | None, float, str]:
    """Start the app (with ``args``) until it prints the start-up ``report`` line (``window-visible``,
    ``first-prediction``); returns (the app's own seconds, wall seconds until the line arrived, all
    stderr read so far).

    ``on_seen(process)`` runs while the app is still up (inspect it) before it is stopped.
    The app's number is None when the line never came (then the wall time is the time it gave up).
    """
    env = {**env, "CIFAR_STUDIO_REPORT_STARTUP": "1"}
    env["CIFAR_STUDIO_LAUNCH_TIME"] = repr(time.time())
    start = time.perf_counter()
    process = subprocess.Popen([str(exe), *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines, reported = [], None
    try:
        deadline = start + timeout
        while time.perf_counter() < deadline:
            line = process.stderr.readline()
            if not line:
                break  # the app exited
            lines.append(line)
            if line.startswith(report):
                reported = float(line.split()[1])
                break
        wall = time.perf_counter() - start
        if reported is not None and on_seen is not None:
            on_seen(process)
    finally:
        _stop(process, grace_s=20)
        with contextlib.suppress(Exception):
            lines.append(process.stderr.read())
    return reported, wall, "".join(lines)


def time_to_window(
    exe: Path, env: dict[str, str], timeout: float = 180, on_visible=None
) -> tuple[float | None, float, str]:
    """The app started without arguments, until it reports ``window-visible`` (see time_to_report)."""
    return time_to_report(exe, env, "window-visible", timeout=timeout, on_seen=on_visible)


# ---------------------------------------------------------------------------- size
def _tree_size(path: Path) -> int:
    if path.is_symlink() or path.is_file():
        return path.lstat().st_size
    return sum(_tree_size(child) for child in path.iterdir())


def bundle_size(bundle: Path, top: int = 12) -> dict:
    """Total bytes (as ``du -sb`` counts files), the biggest parts, and the biggest files."""
    internal = bundle / "_internal" if (bundle / "_internal").is_dir() else bundle
    parts: dict[str, int] = {}
    for child in internal.iterdir():
        # One level deeper where one package holds several big, separately removable pieces.
        if child.is_dir() and not child.is_symlink() and child.name in ("nvidia", "torch", "PySide6"):
            for grandchild in child.iterdir():
                parts[f"{child.name}/{grandchild.name}"] = _tree_size(grandchild)
        else:
            parts[child.name] = _tree_size(child)
    files = sorted(
        ((p.lstat().st_size, p) for p in bundle.rglob("*") if p.is_file() and not p.is_symlink()), reverse=True
    )
    nvidia = internal / "nvidia"
    return {
        "total_bytes": _tree_size(bundle),
        "du": subprocess.run(["du", "-sh", str(bundle)], capture_output=True, text=True).stdout.split("\t")[0]
        if shutil.which("du")
        else None,
        "parts": sorted(parts.items(), key=lambda kv: kv[1], reverse=True)[:top],
        "nvidia_bytes": _tree_size(nvidia) if nvidia.is_dir() else 0,
        "largest_files": [(str(p.relative_to(bundle)), size) for size, p in files[:top]],
    }


def _mib(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"


# ---------------------------------------------------------------------------- report
def measure(bundle: Path, runs: int, display: str, work: Path, model_args: list[str] | None = None) -> dict:
    """All measurements; ``model_args`` (e.g. ``["--checkpoint", P]``) go to the self-test and screenshot runs."""
    exe = executable(bundle)
    model_args = model_args or []
    result: dict = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform(terse=True)}, "
        f"CPU: {_cpu_name()}, GPU: {_gpu_name()}",
        "bundle": str(bundle),
        "size": bundle_size(bundle),
    }
    with virtual_display(display) as display_env:
        result["display"] = display_env.get("DISPLAY", "offscreen")
        window, first, self_test, screenshot = [], [], [], []
        for i in range(runs):
            reported, wall, log = time_to_window(exe, isolated_env(work / f"window{i}", **display_env))
            if reported is None:
                raise RuntimeError(f"no window-visible line from the app; its stderr:\n{log}")
            window.append({"reported_s": round(reported, 2), "wall_s": round(wall, 2)})

            # A photo given on the command line, as "Open with" does: launch to its first result.
            photo_args = (
                (*model_args[:2], str(SAMPLE_PHOTO)) if model_args[:1] == ["--checkpoint"] else (str(SAMPLE_PHOTO),)
            )
            env = isolated_env(work / f"first{i}", **display_env)
            reported, wall, log = time_to_report(exe, env, "first-prediction", args=photo_args)
            if reported is None:
                raise RuntimeError(f"no first-prediction line from the app; its stderr:\n{log}")
            first.append({"reported_s": round(reported, 2), "wall_s": round(wall, 2)})

            env = isolated_env(work / f"self{i}", **display_env)
            done, wall = timed_run([str(exe), "--self-test", *model_args], env)
            summary = ((done.stdout + done.stderr).strip().splitlines() or [""])[-1]
            self_test.append({"wall_s": round(wall, 2), "exit": done.returncode, "summary": summary})

            png = work / f"shot{i}.png"
            checkpoint = model_args[:2] if model_args[:1] == ["--checkpoint"] else []
            cmd = [str(exe), *checkpoint, "--screenshot", str(png), "--tab", "predict", str(SAMPLE_PHOTO)]
            done, wall = timed_run(cmd, isolated_env(work / f"shot{i}", **display_env))
            screenshot.append(
                {
                    "wall_s": round(wall, 2),
                    "exit": done.returncode,
                    "png_bytes": png.stat().st_size if png.exists() else 0,
                }
            )
    result.update(window=window, first_prediction=first, self_test=self_test, screenshot_predict=screenshot)
    return result


def _cpu_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _gpu_name() -> str:
    if shutil.which("nvidia-smi"):
        done = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True, text=True, check=False
        )
        if done.returncode == 0 and done.stdout.strip():
            return done.stdout.strip().splitlines()[0]
    return "none"


def _summary(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.1f} s"
    warm = values[1:]
    return f"{values[0]:.1f} s first run, {statistics.median(warm):.1f} s later (median of {len(warm)})"


def print_report(r: dict) -> None:
    size = r["size"]
    print(f"Bundle:  {r['bundle']}\nMachine: {r['machine']}\nDisplay: {r['display']}\n")
    print(f"Size: {size['du']} ({_mib(size['total_bytes'])}; CUDA libraries {_mib(size['nvidia_bytes'])})")
    for name, n in size["parts"]:
        print(f"  {_mib(n):>11}  {name}")
    print("Largest files:")
    for name, n in size["largest_files"]:
        print(f"  {_mib(n):>11}  {name}")
    print()
    print("Time to visible window (app's report):", _summary([w["reported_s"] for w in r["window"]]))
    print("Time to visible window (wall):        ", _summary([w["wall_s"] for w in r["window"]]))
    print(
        "Launch with a photo to its first prediction (app's report):",
        _summary([f["reported_s"] for f in r["first_prediction"]]),
    )
    print(
        "--self-test (start, load model, classify samples, exit):",
        _summary([s["wall_s"] for s in r["self_test"]]),
        f"- exit {r['self_test'][-1]['exit']}: {r['self_test'][-1]['summary']}",
    )
    print(
        "--screenshot --tab predict PHOTO (start, classify one photo, render, exit):",
        _summary([s["wall_s"] for s in r["screenshot_predict"]]),
        f"- exit {r['screenshot_predict'][-1]['exit']}",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Measure the bundle's size, time to window and time to prediction.")
    parser.add_argument(
        "--bundle", type=Path, default=DEFAULT_BUNDLE, help="the bundle folder (packaging/dist/CIFARStudio)"
    )
    parser.add_argument("--runs", type=int, default=3, help="runs of each measurement (first cold-ish, then warm)")
    parser.add_argument(
        "--display",
        choices=("auto", "xvfb", "offscreen"),
        default="auto",
        help="Xvfb (when installed) or Qt's offscreen platform",
    )
    parser.add_argument("--json", type=Path, help="also write the numbers to this JSON file")
    parser.add_argument("--checkpoint", help="use this checkpoint instead of the bundled default model")
    parser.add_argument("--samples", help="sample folder with expected.json for --self-test (with --checkpoint)")
    args = parser.parse_args(argv)
    model_args = (["--checkpoint", str(Path(args.checkpoint).resolve())] if args.checkpoint else []) + (
        ["--samples", str(Path(args.samples).resolve())] if args.samples else []
    )
    with tempfile.TemporaryDirectory(prefix="cifar-studio-measure-") as tmp:
        result = measure(args.bundle.resolve(), max(1, args.runs), args.display, Path(tmp), model_args)
    print_report(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
