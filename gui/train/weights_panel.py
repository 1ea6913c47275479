"""Under the Train tab's "Weights file" field: whether the chosen ``tv:`` model's ImageNet weights
are on this computer and, when they are not, the three ways on (download them, choose a file,
or train from random initialisation), with a Download button that fetches them in the
background (progress bar, Cancel) into the torch cache where training finds them."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from ..background import weights_calls
from ..background.current import CurrentTask
from ..background.task import TaskError

__all__ = ["WeightsPanel"]

CHECK_DELAY_MS = 250  # typing a tv: name checks once it pauses


def _megabytes(size: int | None) -> str:
    return f" ({size / 2**20:.1f} MB)" if size else ""


class WeightsPanel(QWidget):
    """``set_model(name, weights_file)`` after each edit; ``wanted`` says whether to show it.

    States (``state``): "" (not a tv: model, a weights file chosen, or not known yet),
    "checking", "cached", "missing", "downloading", "failed" (the status or the download).
    ``choose_file`` asks for the weights-file dialog; ``downloaded(path)`` when weights arrive.
    """

    choose_file = Signal()
    downloaded = Signal(str)
    changed = Signal()  # ``wanted`` may have changed

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = ""
        self.model = ""
        self.status = None  # engine.WeightsStatus of ``model`` once checked
        self.ready = False  # the engine is loaded: checking does not compete with start-up
        self._file = ""
        self._downloading = ""  # the model whose weights are being downloaded
        self._cancelled = False
        self._error = ""
        self._check = CurrentTask()
        self._download = CurrentTask()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(CHECK_DELAY_MS)
        self._timer.timeout.connect(self._start_check)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)  # copy the URL
        self.download_button = QPushButton("Download")
        self.download_button.setToolTip(
            "Fetch torchvision's ImageNet weights for this model into the torch cache, where training "
            "finds them (checked against the SHA-256 in their file name)"
        )
        self.choose_button = QPushButton("Choose file…")
        self.choose_button.setToolTip("A torchvision weights file downloaded elsewhere (state dict)")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the download; nothing is kept")
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self.download_button)
        buttons.addWidget(self.choose_button)
        buttons.addWidget(self.progress, 1)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addLayout(buttons)
        self.download_button.clicked.connect(lambda: self.download())
        self.choose_button.clicked.connect(self.choose_file)
        self.cancel_button.clicked.connect(self.cancel_download)
        self._show()

    # ----------------------------------------------------------------- inputs
    @property
    def wanted(self) -> bool:
        return bool(self.state)

    def set_ready(self) -> None:
        """The engine is loaded: check the chosen model now (until then nothing imports torch)."""
        self.ready = True
        self.set_model(self.model, self._file, force=True)

    def set_model(self, name: str, weights_file: str = "", force: bool = False) -> None:
        """The picker's model and weights file; a tv: model without a file gets its status checked."""
        name = name.strip()
        if not force and name == self.model and weights_file == self._file:
            return
        self.model, self._file = name, weights_file
        self._check.cancel()
        self._timer.stop()
        self.status = None
        if not self.model.startswith("tv:") or weights_file:
            self._set_state("")
            return
        if self._downloading == self.model:
            self._set_state("downloading")
            return
        if self.ready:
            self._set_state("checking")
            self._timer.start()
        else:
            self._set_state("")

    def _start_check(self) -> None:
        task = self._check.start(weights_calls.weights_status, self.model, name="weights status")
        task.succeeded.connect(self._on_status)
        task.failed.connect(self._on_status_failed)
        task.start()

    def _on_status(self, status) -> None:
        self.status = status
        self._set_state("cached" if status.cached else "missing")

    def _on_status_failed(self, error: TaskError) -> None:
        # An unknown tv: name: the form's own check says so when training starts; nothing to offer here.
        self._error = error.message
        self._set_state("")

    # ----------------------------------------------------------------- download
    @property
    def busy(self) -> bool:
        return bool(self._downloading)

    @property
    def downloading(self) -> str:
        """The model ("tv:resnet18") whose weights are being downloaded; "" when none."""
        return self._downloading

    def download(self) -> bool:
        if self.busy or self.state not in ("missing", "failed"):
            return False
        self._downloading, self._cancelled = self.model, False
        self.progress.setValue(0)
        self.progress.setFormat("starting…")
        task = self._download.start(weights_calls.download_weights, self.model, name="download weights")
        task.progress.connect(self._on_progress)
        task.succeeded.connect(self._on_downloaded)
        task.failed.connect(self._on_download_failed)
        task.start()
        self._set_state("downloading")
        return True

    def cancel_download(self) -> None:
        task = self._download.task
        if task is not None:
            self._cancelled = True
            task.cancel()  # ends at the next chunk; the engine removes the partial file

    def _on_progress(self, fraction, text: str) -> None:
        if fraction is None:
            self.progress.setRange(0, 0)
        else:
            self.progress.setRange(0, 1000)
            self.progress.setValue(round(fraction * 1000))
        self.progress.setFormat(text or "%p%")

    def _on_downloaded(self, path: str) -> None:
        model, self._downloading = self._downloading, ""
        self.downloaded.emit(path)
        if model == self.model:
            self.set_model(self.model, self._file, force=True)  # re-checked: now "cached"

    def _on_download_failed(self, error: TaskError) -> None:
        model, self._downloading = self._downloading, ""
        if model != self.model:
            self.set_model(self.model, self._file, force=True)
            return
        self._error = "Download cancelled; nothing was saved." if self._cancelled else error.message
        self._set_state("failed")

    def stop(self) -> None:
        """The window is closing: end the check and the download (no partial file is left)."""
        self._timer.stop()
        self._check.cancel()
        self._download.cancel()
        self._downloading = ""

    # ----------------------------------------------------------------- view
    def _set_state(self, state: str) -> None:
        was = self.wanted
        self.state = state
        self._show()
        if self.wanted != was:
            self.changed.emit()

    def _show(self) -> None:
        s, status = self.state, self.status
        arch = self.model.removeprefix("tv:")
        size = _megabytes(status.size_bytes) if status is not None else ""
        if s == "checking":
            text = f"Looking for {arch}'s ImageNet weights on this computer…"
        elif s == "cached":
            text = f"ImageNet weights on this computer: {status.file_name} in {Path(status.path).parent}"
        elif s == "missing":
            text = (
                f"No ImageNet weights for {arch} on this computer: download them{size}, choose a file, "
                "or train from random initialisation."
            )
        elif s == "downloading":
            text = f"Downloading {self._downloading.removeprefix('tv:')}'s ImageNet weights…"
        elif s == "failed":
            text = (
                f"{self._error}\nNo ImageNet weights for {arch} on this computer: try the download again, "
                "choose a file, or train from random initialisation."
            )
        else:
            text = ""
        self.label.setText(text)
        self.label.setToolTip(status.url if status is not None else "")
        offer = s in ("missing", "failed")
        self.download_button.setText(f"Download{size}")
        self.download_button.setVisible(offer)
        self.download_button.setEnabled(offer and not self.busy)
        self.choose_button.setVisible(offer)
        self.progress.setVisible(s == "downloading")
        self.cancel_button.setVisible(s == "downloading")
