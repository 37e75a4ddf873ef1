"""System tray icon and alert delivery, with an in-window banner where no tray exists.

Offscreen and bare X servers have no tray: `QSystemTrayIcon.isSystemTrayAvailable()` is False
and `showMessage()` silently does nothing, so the notifier falls back to the window's banner.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Iterable
from typing import Protocol

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QAction, QIcon
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from app.insight.types import AlertLevel, SkuInsight
from app.ui.notifications import Notice, NotificationPolicy
from app.ui.paths import icon_path


class TrayState(enum.StrEnum):
    """What the tray icon shows."""

    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"
    PAUSED = "paused"
    OFFLINE = "offline"


_ICONS: dict[TrayState, QIcon] = {}


def tray_icon(state: TrayState) -> QIcon:
    """The tray icon of a state (loaded once)."""
    if state not in _ICONS:
        _ICONS[state] = QIcon(str(icon_path(f"tray-{state.value}")))
    return _ICONS[state]


class BannerSink(Protocol):
    """What the notifier needs from the in-window banner (MainWindow.banner implements it)."""

    def show_notice(self, notice: Notice) -> None: ...


class AlertNotifier(QObject):
    """Turns insight updates into tray notifications (or banner notices) and owns the tray menu.

    Signals: `open_sku(sku_id)` when a notice is clicked, `open_window()` from the menu,
    `quit_requested()` from the menu, `paused_changed(bool)`, `notified(Notice)` for every notice
    delivered (tests and the status bar listen).
    """

    open_sku = Signal(str)
    open_window = Signal()
    quit_requested = Signal()
    paused_changed = Signal(bool)
    notified = Signal(object)

    def __init__(
        self,
        banner: BannerSink | None = None,
        policy: NotificationPolicy | None = None,
        use_tray: bool | None = None,
        clock: Callable[[], float] = time.time,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.policy = policy or NotificationPolicy()
        self._banner = banner
        self._clock = clock
        self._last_notice: Notice | None = None
        self._level = TrayState.OK
        self._offline = False
        self._shown_state: TrayState | None = None
        available = QSystemTrayIcon.isSystemTrayAvailable()
        self.tray: QSystemTrayIcon | None = None
        if use_tray is None:
            use_tray = available
        if use_tray and available:
            self.tray = QSystemTrayIcon(tray_icon(TrayState.OK), self)
            self.tray.setToolTip("ViralStock")
            self.tray.setContextMenu(self._build_menu())
            self.tray.messageClicked.connect(self._notice_clicked)
            self.tray.activated.connect(self._activated)
            self.tray.show()
        self._flush_timer = QTimer(self)
        self._flush_timer.setInterval(5000)
        self._flush_timer.timeout.connect(self._flush)

    @property
    def uses_tray(self) -> bool:
        """False when alerts go to the in-window banner instead."""
        return self.tray is not None

    @property
    def state(self) -> TrayState:
        if self.policy.paused:
            return TrayState.PAUSED
        if self._offline:
            return TrayState.OFFLINE
        return self._level

    def _build_menu(self) -> QMenu:
        menu = QMenu()
        self.open_action = QAction("Open ViralStock", menu)
        self.open_action.triggered.connect(self.open_window)
        self.pause_action = QAction("Pause alerts", menu)
        self.pause_action.setCheckable(True)
        self.pause_action.toggled.connect(self.set_paused)
        self.quit_action = QAction("Quit", menu)
        self.quit_action.triggered.connect(self.quit_requested)
        menu.addAction(self.open_action)
        menu.addAction(self.pause_action)
        menu.addSeparator()
        menu.addAction(self.quit_action)
        self._menu = menu
        return menu

    def set_banner(self, banner: BannerSink) -> None:
        self._banner = banner

    def set_paused(self, paused: bool) -> None:
        """Pause or resume alerts (levels keep being tracked while paused)."""
        if paused == self.policy.paused:
            return
        self.policy.paused = paused
        if self.tray is not None and self.pause_action.isChecked() != paused:
            self.pause_action.setChecked(paused)
        self._refresh_icon()
        self.paused_changed.emit(paused)

    def set_offline(self, offline: bool) -> None:
        """Show the disconnected icon (no API and no relay)."""
        self._offline = offline
        self._refresh_icon()

    def update(self, insights: Iterable[SkuInsight]) -> list[Notice]:
        """Feed a recompute: updates the icon state and delivers due notices."""
        items = list(insights)
        present = {s.level for s in items}
        worst = max((level.severity for level in present), default=0)
        self._level = {2: TrayState.CRITICAL, 1: TrayState.WARNING}.get(worst, TrayState.OK)
        self._refresh_icon(items)
        notices = self.policy.update(items, self._clock())
        for notice in notices:
            self._deliver(notice)
        if self.policy._held and not self._flush_timer.isActive():
            self._flush_timer.start()
        return notices

    def _flush(self) -> None:
        for notice in self.policy.flush(self._clock()):
            self._deliver(notice)
        if not self.policy._held:
            self._flush_timer.stop()

    def _deliver(self, notice: Notice) -> None:
        self._last_notice = notice
        if self.tray is not None:
            icon = (
                QSystemTrayIcon.MessageIcon.Critical
                if notice.level is AlertLevel.CRITICAL
                else QSystemTrayIcon.MessageIcon.Warning
            )
            self.tray.showMessage(notice.title, notice.message, icon, 10_000)
        elif self._banner is not None:
            self._banner.show_notice(notice)
        self.notified.emit(notice)

    def _refresh_icon(self, items: list[SkuInsight] | None = None) -> None:
        if self.tray is None:
            return
        if self.state is not self._shown_state:
            self._shown_state = self.state
            self.tray.setIcon(tray_icon(self.state))
        if items is not None:
            critical = sum(1 for s in items if s.level is AlertLevel.CRITICAL)
            warning = sum(1 for s in items if s.level is AlertLevel.WARNING)
            tip = f"ViralStock: {critical} critical, {warning} running low"
            if self.tray.toolTip() != tip:
                self.tray.setToolTip(tip)

    def _notice_clicked(self) -> None:
        notice = self._last_notice
        if notice is not None and notice.sku_ids:
            self.open_sku.emit(notice.sku_ids[0])
        else:
            self.open_window.emit()

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (
            QSystemTrayIcon.ActivationReason.Trigger,
            QSystemTrayIcon.ActivationReason.DoubleClick,
        ):
            self.open_window.emit()
