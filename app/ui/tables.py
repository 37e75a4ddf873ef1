"""Small read-only table models (analytics, corrections) and the log model with filters."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QColor

from app.ui import when
from app.ui.viewmodel import LogEntry, LogLevel

Index = QModelIndex | QPersistentModelIndex


class RowsModel[T](QAbstractTableModel):
    """A table over a list of rows; each column has a header, a text getter and a sort key."""

    def __init__(
        self,
        columns: Sequence[tuple[str, Callable[[T], str], Callable[[T], Any]]],
        align_right: set[int] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._columns = list(columns)
        self._rows: list[T] = []
        self._right = align_right or set()

    def set_rows(self, rows: Sequence[T]) -> None:
        rows = list(rows)
        if rows == self._rows:
            return
        if len(rows) == len(self._rows) and rows:
            self._rows = rows
            self.dataChanged.emit(
                self.index(0, 0), self.index(len(rows) - 1, len(self._columns) - 1)
            )
            return
        self.beginResetModel()
        self._rows = rows
        self.endResetModel()

    def row(self, i: int) -> T:
        return self._rows[i]

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._columns)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        _, text, key = self._columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return text(row)
        if role == Qt.ItemDataRole.UserRole:
            return key(row)
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() in self._right:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self._columns[section][0]
        return None


class SortProxy(QSortFilterProxyModel):
    """Sorts by each column's sort key (UserRole) rather than by its text."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setSortRole(Qt.ItemDataRole.UserRole)


LOG_COLUMNS = ("Time", "Level", "Source", "Message")


class LogModel(QAbstractTableModel):
    """A bounded ring of log entries; `append` takes only entries newer than the last seen."""

    def __init__(self, capacity: int = 5000, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: deque[LogEntry] = deque(maxlen=capacity)
        self.capacity = capacity
        self.last_seq = -1
        self.colors: dict[str, str] = {}

    def append(self, entries: Sequence[LogEntry], check_seq: bool = True) -> int:
        """Append entries; with `check_seq`, only those newer than the last seen (snapshot
        tails overlap); without, all (the app's own log records, which have their own count)."""
        if check_seq:
            fresh = [e for e in entries if e.seq > self.last_seq]
            if not fresh:
                return 0
            self.last_seq = fresh[-1].seq
        else:
            fresh = list(entries)
            if not fresh:
                return 0
        overflow = len(self._rows) + len(fresh) - self.capacity
        if overflow > 0:
            drop = min(overflow, len(self._rows))
            self.beginRemoveRows(QModelIndex(), 0, drop - 1)
            for _ in range(drop):
                self._rows.popleft()
            self.endRemoveRows()
            fresh = fresh[-self.capacity :]
        start = len(self._rows)
        self.beginInsertRows(QModelIndex(), start, start + len(fresh) - 1)
        self._rows.extend(fresh)
        self.endInsertRows()
        return len(fresh)

    def entry(self, row: int) -> LogEntry:
        return self._rows[row]

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(LOG_COLUMNS)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        e = self._rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (when.timestamp(e.time), e.level.value, e.source, e.message)[col]
        if role == Qt.ItemDataRole.ForegroundRole and col == 1:
            color = self.colors.get(e.level.value)
            return QColor(color) if color else None
        return None

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return LOG_COLUMNS[section]
        return None


LEVEL_RANK = {LogLevel.DEBUG: 0, LogLevel.INFO: 1, LogLevel.WARNING: 2, LogLevel.ERROR: 3}


class LogFilter(QSortFilterProxyModel):
    """Filters the log by minimum level, source and a text search."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.min_level = LogLevel.DEBUG
        self.source = ""
        self.text = ""

    def set_filter(
        self, min_level: LogLevel | None = None, source: str | None = None, text: str | None = None
    ) -> None:
        self.beginFilterChange()
        if min_level is not None:
            self.min_level = min_level
        if source is not None:
            self.source = source
        if text is not None:
            self.text = text.casefold()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        model = self.sourceModel()
        assert isinstance(model, LogModel)
        e = model.entry(source_row)
        if LEVEL_RANK[e.level] < LEVEL_RANK[self.min_level]:
            return False
        if self.source and e.source != self.source:
            return False
        return not self.text or self.text in e.message.casefold()
