"""Issue 19 item 3: a tv: model's ImageNet weights are downloaded on request into the torch hub
cache (atomic, hash-checked, cancellable), from a local HTTP server here: tests never go online."""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import io
import json
import os
import socket
import threading
import time
from pathlib import Path
from typing import ClassVar

import pytest
import torch

import engine
from engine.models.weights_download import DownloadError, download_file, expected_sha256_prefix

ARCH = "resnet18"
FILE = "resnet18-f37072fd.pth"  # torchvision's name: the SHA-256 of the real file starts f37072fd


def _state_dict_bytes() -> bytes:
    buf = io.BytesIO()
    torch.save({"w": torch.arange(50_000, dtype=torch.float32)}, buf)  # ~200 kB: several chunks
    return buf.getvalue()


PAYLOAD = _state_dict_bytes()
PREFIX = hashlib.sha256(PAYLOAD).hexdigest()[:8]


class _Handler(http.server.BaseHTTPRequestHandler):
    files: ClassVar[dict[str, bytes]] = {}
    requests: ClassVar[list[str]] = []
    slow: ClassVar[list[bool]] = []  # [True]: 8 KB every 50 ms, so a download can be cancelled midway
    truncate: ClassVar[list[bool]] = []  # [True]: the connection closes halfway through the file

    def do_GET(self):
        self.requests.append(self.path)
        body = self.files.get(self.path.rsplit("/", 1)[-1])
        if body is None:
            self.send_error(404, "Not Found")
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            step = 8192 if self.slow else len(body)
            if self.truncate:
                body = body[: len(body) // 2]
            for start in range(0, len(body), step):
                self.wfile.write(body[start : start + step])
                if self.slow:
                    self.wfile.flush()
                    time.sleep(0.05)

    def log_message(self, *args):  # quiet
        pass


@pytest.fixture
def server():
    """A local HTTP server: ``server.files[name] = bytes``; ``server.url`` is its base URL."""
    handler = type("Handler", (_Handler,), {"files": {}, "requests": [], "slow": [], "truncate": []})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    httpd.files, httpd.requests, httpd.slow, httpd.truncate = (
        handler.files,
        handler.requests,
        handler.slow,
        handler.truncate,
    )
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}/models"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """An empty torch hub cache in tmp_path; returns its checkpoints folder."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None, raising=False)
    return tmp_path / "torch-home" / "hub" / "checkpoints"


@pytest.fixture
def mirror(server, monkeypatch):
    monkeypatch.setenv(engine.WEIGHTS_URL_ENV, server.url)
    return server


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again on exit: nothing listens there


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# ---------------------------------------------------------------------------- download_file
def test_a_download_lands_atomically_with_progress_and_its_hash_checked(server, tmp_path):
    server.files["w-abc.pth"] = PAYLOAD
    dest = tmp_path / "cache" / "w-abc.pth"
    calls = []
    assert download_file(f"{server.url}/w-abc.pth", dest, PREFIX, progress=lambda d, t: calls.append((d, t))) == dest
    assert dest.read_bytes() == PAYLOAD
    assert _leftovers(dest.parent) == ["w-abc.pth"]  # no temporary file left
    assert calls[0] == (0, len(PAYLOAD)) and calls[-1] == (len(PAYLOAD), len(PAYLOAD))
    assert len(calls) > 2 and [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert torch.equal(torch.load(dest, weights_only=True)["w"], torch.arange(50_000, dtype=torch.float32))


def test_temporary_files_left_by_a_killed_download_are_removed(server, tmp_path):
    server.files["w.pth"] = PAYLOAD
    stale, fresh = tmp_path / ".w.pth.123.abcd.part", tmp_path / ".w.pth.456.ef01.part"
    stale.write_bytes(b"partial")
    fresh.write_bytes(b"another process downloading now")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    download_file(f"{server.url}/w.pth", tmp_path / "w.pth", PREFIX)
    assert _leftovers(tmp_path) == [fresh.name, "w.pth"]


def test_a_hash_mismatch_is_refused_and_leaves_nothing(server, tmp_path):
    server.files["w.pth"] = PAYLOAD
    dest = tmp_path / "w.pth"
    with pytest.raises(DownloadError, match=r"SHA-256 mismatch: expected 00000000\.\.\., got " + PREFIX) as info:
        download_file(f"{server.url}/w.pth", dest, "00000000")
    assert "\n" not in str(info.value)
    assert _leftovers(tmp_path) == []


def test_an_existing_file_survives_a_failed_download(server, tmp_path):
    dest = tmp_path / "w.pth"
    dest.write_bytes(b"old")
    with pytest.raises(DownloadError, match="HTTP 404"):
        download_file(f"{server.url}/w.pth", dest)
    assert dest.read_bytes() == b"old" and _leftovers(tmp_path) == ["w.pth"]


def test_cancelling_leaves_no_partial_file(server, tmp_path):
    server.files["w.pth"] = PAYLOAD
    stop = threading.Event()

    def progress(done, total):
        if done > 0:
            stop.set()  # after the first chunk

    with pytest.raises(engine.Cancelled, match="cancelled"):
        download_file(f"{server.url}/w.pth", tmp_path / "w.pth", progress=progress, stop=stop)
    assert _leftovers(tmp_path) == []


def test_a_connection_closed_midway_leaves_no_partial_file(server, tmp_path):
    server.files["w.pth"] = PAYLOAD
    server.truncate.append(True)
    with pytest.raises(DownloadError, match=r"\(connection closed") as info:
        download_file(f"{server.url}/w.pth", tmp_path / "w.pth", timeout=10)
    assert "\n" not in str(info.value) and _leftovers(tmp_path) == []


def test_a_file_url_mirror_works_offline(tmp_path):
    source = tmp_path / "share" / "w-x.pth"
    source.parent.mkdir()
    source.write_bytes(PAYLOAD)
    dest = download_file(source.as_uri(), tmp_path / "cache" / "w-x.pth", PREFIX)
    assert dest.read_bytes() == PAYLOAD


def test_the_hash_prefix_is_read_from_torchvision_file_names():
    assert expected_sha256_prefix("resnet18-f37072fd.pth") == "f37072fd"
    assert expected_sha256_prefix("efficientnet_b0_rwightman-7f5810bc.pth") == "7f5810bc"
    assert expected_sha256_prefix("weights.pth") is None


# ---------------------------------------------------------------------------- tv: weights
def test_weights_status_names_the_cache_path_url_and_size(hub, monkeypatch):
    monkeypatch.delenv(engine.WEIGHTS_URL_ENV, raising=False)
    status = engine.weights_status(f"tv:{ARCH}")
    assert status.model == "tv:resnet18" and status.file_name == FILE
    assert Path(status.path) == hub / FILE and not status.cached
    assert status.url == status.source_url == f"https://download.pytorch.org/models/{FILE}"
    assert abs(status.size_bytes - 46_830_571) < 1000  # the real file's size
    monkeypatch.setenv(engine.WEIGHTS_URL_ENV, "http://mirror.lan/m/")
    assert engine.weights_status(ARCH).url == f"http://mirror.lan/m/{FILE}"
    hub.mkdir(parents=True)
    (hub / FILE).write_bytes(b"x")
    assert engine.weights_status(ARCH).cached
    listed = {s.model: s for s in engine.list_weights()}
    assert listed["tv:resnet18"].cached and not listed["tv:resnet34"].cached
    with pytest.raises(engine.EngineError, match="unknown torchvision model"):
        engine.weights_status("tv:nope")


def test_tv_weights_whose_hash_does_not_match_their_name_are_refused(hub, mirror):
    mirror.files[FILE] = PAYLOAD  # not the real file: its SHA-256 does not start f37072fd
    with pytest.raises(engine.EngineError) as info:
        engine.download_weights(f"tv:{ARCH}")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"cannot download resnet18 weights from {mirror.url}/{FILE} (SHA-256 mismatch")
    alternative = "elsewhere and choose it as Weights file (--pretrained-path)"
    assert f"download https://download.pytorch.org/models/{FILE} {alternative}" in message
    assert message.endswith(f"or put it in {hub}")
    assert _leftovers(hub) == []
    assert mirror.requests == [f"/models/{FILE}"]


def test_tv_weights_download_into_the_cache_the_model_reads(hub, mirror, monkeypatch):
    from engine.models import weights_download

    mirror.files[FILE] = PAYLOAD
    monkeypatch.setattr(weights_download, "expected_sha256_prefix", lambda name: PREFIX)  # our file's hash
    seen = []
    path = engine.download_weights(f"tv:{ARCH}", progress=lambda d, t: seen.append(d))
    assert path == hub / FILE and path.read_bytes() == PAYLOAD and seen[-1] == len(PAYLOAD)
    assert engine.weights_status(ARCH).cached
    assert engine.download_weights(ARCH) == path and len(mirror.requests) == 1  # cached: not fetched again


def test_a_missing_file_on_the_server_is_one_line_naming_the_alternative(hub, mirror):
    with pytest.raises(engine.EngineError) as info:
        engine.download_weights(ARCH)
    message = str(info.value)
    assert "\n" not in message and "(HTTP 404 Not Found)" in message
    assert "choose it as Weights file" in message
    assert _leftovers(hub) == []


def test_no_network_is_one_line_naming_the_alternative(hub, monkeypatch):
    monkeypatch.setenv(engine.WEIGHTS_URL_ENV, f"http://127.0.0.1:{_closed_port()}/models")
    with pytest.raises(engine.EngineError) as info:
        engine.download_weights(ARCH, timeout=5)
    message = str(info.value)
    assert "\n" not in message
    assert "(no network: URLError Connection refused)" in message
    alternative = "elsewhere and choose it as Weights file (--pretrained-path)"
    assert f"download https://download.pytorch.org/models/{FILE} {alternative}" in message
    assert not hub.exists() or _leftovers(hub) == []


def test_a_missing_cache_warning_says_how_to_download(hub, caplog):
    from engine.models import create_model

    with caplog.at_level("WARNING"):
        create_model("tv:mobilenet_v3_small", num_classes=3, in_channels=3)
    assert "random initialisation" in caplog.text and "python -m engine weights tv:mobilenet_v3_small" in caplog.text


# ---------------------------------------------------------------------------- command line
def _cli(capsys, *argv) -> tuple[int, str, str]:
    from engine.cli import main

    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def our_hash(monkeypatch):
    """The test file's SHA-256 prefix stands in for the one in torchvision's file name."""
    from engine.models import weights_download

    monkeypatch.setattr(weights_download, "expected_sha256_prefix", lambda name: PREFIX)


def test_the_weights_command_downloads_and_lists(hub, mirror, our_hash, capsys):
    mirror.files[FILE] = PAYLOAD
    code, out, err = _cli(capsys, "weights", f"tv:{ARCH}")
    assert code == 0, err
    assert (hub / FILE).read_bytes() == PAYLOAD
    assert f"ImageNet weights saved to {hub / FILE}" in err and "\r" not in err  # no bar: not a terminal
    code, out, err = _cli(capsys, "weights", "--list", "--json")
    rows = {r["model"]: r for r in json.loads(out)}
    assert rows["tv:resnet18"]["cached"] and not rows["tv:alexnet"]["cached"]
    code, out, err = _cli(capsys, "weights", "--list")
    assert code == 0 and "1 of" in out and "tv:resnet18" in out
    code, out, err = _cli(capsys, "weights", ARCH)
    assert code == 0 and "already cached" in err and len(mirror.requests) == 1


def test_the_weights_command_fails_in_one_line(hub, mirror, capsys):
    code, out, err = _cli(capsys, "weights", f"tv:{ARCH}")  # 404 on the mirror
    assert code == 2 and out == ""
    assert err.splitlines()[-1].startswith("error: cannot download resnet18 weights")
    code, out, err = _cli(capsys, "weights")
    assert code == 2 and "--list" in err


def test_train_download_weights_fetches_them_before_training(hub, mirror, our_hash, capsys, monkeypatch, tmp_path):
    import engine.training

    mirror.files[FILE] = PAYLOAD
    seen = []

    def fake_train(cfg, out, **kwargs):  # the real one is tested elsewhere: here, what it finds
        seen.append((cfg.model, (hub / FILE).is_file()))
        raise engine.EngineError("stop here")

    monkeypatch.setattr(engine.training, "train", fake_train)
    code, _out, err = _cli(capsys, "train", "--model", f"tv:{ARCH}", "--download-weights", "--out", tmp_path / "r")
    assert seen == [("tv:resnet18", True)] and code == 2 and "stop here" in err
    code, _out, err = _cli(capsys, "train", "--model", "resnet20", "--download-weights", "--out", tmp_path / "r")
    assert "--download-weights ignored: resnet20 is not a torchvision" in err
    assert len(mirror.requests) == 1


# ---------------------------------------------------------------------------- the Train tab
def _picker(qtbot, engine_info, gui_settings, model):
    from gui.train.tab import TrainTab

    tab = TrainTab(gui_settings)
    qtbot.addWidget(tab)
    tab.show()
    tab.engine_ready(engine_info)
    tab.form.model.set_model_name(model)
    panel = tab.form.model.weights_panel
    qtbot.waitUntil(lambda: panel.state not in ("", "checking"), timeout=60_000)
    return tab, panel


def test_the_train_tab_downloads_missing_weights(qtbot, engine_info, gui_settings, hub, mirror, our_hash):
    mirror.files[FILE] = PAYLOAD
    tab, panel = _picker(qtbot, engine_info, gui_settings, f"tv:{ARCH}")
    picker = tab.form.model
    assert panel.state == "missing" and panel.isVisible()
    text = panel.label.text()
    assert "No ImageNet weights for resnet18 on this computer: download them (44.7 MB), choose a file" in text
    assert "train from random initialisation" in text
    assert panel.download_button.isVisible() and panel.download_button.text() == "Download (44.7 MB)"
    assert not panel.progress.isVisible()
    with qtbot.waitSignal(panel.downloaded, timeout=60_000) as got:
        panel.download_button.click()
        assert panel.state == "downloading" and panel.progress.isVisible() and panel.cancel_button.isVisible()
    assert got.args == [str(hub / FILE)] and (hub / FILE).read_bytes() == PAYLOAD
    qtbot.waitUntil(lambda: panel.state == "cached", timeout=60_000)
    assert FILE in panel.label.text() and not panel.download_button.isVisible()
    picker.weights.setText(str(hub / FILE))  # a file chosen: nothing to say
    assert not panel.wanted and not panel.isVisible()
    picker.set_model_name("resnet20")
    assert not panel.wanted


def test_a_download_cancelled_in_the_train_tab_leaves_nothing(qtbot, engine_info, gui_settings, hub, mirror):
    mirror.files[FILE] = PAYLOAD
    mirror.slow.append(True)
    tab, panel = _picker(qtbot, engine_info, gui_settings, f"tv:{ARCH}")
    assert panel.download()
    qtbot.waitUntil(lambda: panel.progress.value() > 0, timeout=30_000)
    tab.output.setText(str(hub.parent / "run"))
    assert not tab.start()  # not while the weights are on their way
    assert "still downloading" in tab.message.text() and not tab.running
    panel.cancel_button.click()
    qtbot.waitUntil(lambda: panel.state == "failed", timeout=30_000)
    assert panel.label.text().startswith("Download cancelled; nothing was saved.")
    assert panel.download_button.isVisible() and panel.download_button.isEnabled()
    assert _leftovers(hub) == []


def test_a_failed_download_in_the_train_tab_is_one_line_with_the_alternatives(
    qtbot, engine_info, gui_settings, hub, mirror
):
    _, panel = _picker(qtbot, engine_info, gui_settings, f"tv:{ARCH}")  # the mirror has no file: 404
    panel.download()
    qtbot.waitUntil(lambda: panel.state == "failed", timeout=30_000)
    first, second = panel.label.text().split("\n")
    assert first.startswith("cannot download resnet18 weights") and "HTTP 404" in first
    assert "choose a file, or train from random initialisation" in second
