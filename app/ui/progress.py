"""Progress of long work (backfill, resync) with an estimate of the time left and a cancel."""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from app.ui.viewmodel import Progress


def time_left_words(seconds: float | None) -> str:
    if seconds is None:
        return "estimating time left…"
    if seconds < 10:
        return "a few seconds left"
    if seconds < 90:
        return f"about {round(seconds / 5) * 5:.0f} s left"
    if seconds < 3600:
        return f"about {round(seconds / 60):.0f} min left"
    return f"about {seconds / 3600:.1f} h left"


class EtaEstimator:
    """Time left from a smoothed rate of progress (robust to bursts)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, alpha: float = 0.3) -> None:
        self._clock = clock
        self._alpha = alpha
        self.reset()

    def reset(self) -> None:
        self._last: tuple[float, int] | None = None
        self._rate: float | None = None

    def update(self, done: int, total: int | None) -> float | None:
        now = self._clock()
        if self._last is not None:
            t0, d0 = self._last
            dt = now - t0
            if dt > 0 and done >= d0:
                inst = (done - d0) / dt
                self._rate = (
                    inst
                    if self._rate is None
                    else (self._alpha * inst + (1 - self._alpha) * self._rate)
                )
        self._last = (now, done)
        if total is None or self._rate is None or self._rate <= 0:
            return None
        return max(0.0, (total - done) / self._rate)


class ProgressPanel(QFrame):
    """Shown while long work runs; emits `cancel_requested` when the seller cancels."""

    cancel_requested = Signal()
    visibility_changed = Signal(bool)

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("Banner")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(14, 8, 8, 8)
        layout.setSpacing(12)
        self.title = QLabel()
        self.title.setObjectName("AlertTitle")
        self.bar = QProgressBar()
        self.bar.setTextVisible(False)
        self.bar.setMinimumWidth(240)
        self.detail = QLabel()
        self.detail.setProperty("muted", True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self._cancel)
        layout.addWidget(self.title)
        layout.addWidget(self.bar, 1)
        layout.addWidget(self.detail)
        layout.addWidget(self.cancel_button)
        self.eta = EtaEstimator(clock)
        self.hide()

    def update_from(self, progress: Progress | None) -> None:
        """Show, advance, or (with None) hide the panel."""
        if progress is None:
            self.finish()
            return
        if self.isHidden():
            self.eta.reset()
            self.cancel_button.setEnabled(True)
            self.show()
        self.title.setText(progress.title)
        if progress.total is None or progress.total <= 0:
            self.bar.setRange(0, 0)
            left = None
            done = f"{progress.done:,} done"
        else:
            self.bar.setRange(0, progress.total)
            self.bar.setValue(min(progress.done, progress.total))
            left = self.eta.update(progress.done, progress.total)
            done = f"{progress.done:,} of {progress.total:,}"
        detail = f" · {progress.detail}" if progress.detail else ""
        self.detail.setText(f"{done} · {time_left_words(left)}{detail}")

    def setVisible(self, visible: bool) -> None:
        super().setVisible(visible)
        self.visibility_changed.emit(visible)

    def finish(self) -> None:
        self.hide()
        self.eta.reset()

    def _cancel(self) -> None:
        self.cancel_button.setEnabled(False)
        self.detail.setText("cancelling…")
        self.cancel_requested.emit()
