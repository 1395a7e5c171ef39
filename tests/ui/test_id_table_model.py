"""The lazy id model: rows fetched a page at a time, sorting done by the id query."""

from __future__ import annotations

from PySide6.QtCore import Qt

from panelmanager.ui.models.base import PAGE, Column, IdTableModel


def _model(calls: list, fetched: list) -> IdTableModel:
    names = {i: f"patient {i:05d}" for i in range(1, 1001)}

    def query(sort_key, descending):
        calls.append((sort_key, descending))
        return sorted(names, reverse=descending)

    def fetch(ids):
        fetched.append(len(ids))
        return {i: {"name": names[i]} for i in ids}

    return IdTableModel([Column("name", "Name", "name")], query, fetch)


def test_rows_are_fetched_a_page_at_a_time(qapp):
    calls, fetched = [], []
    model = _model(calls, fetched)
    model.reload()
    assert model.rowCount() == 1000 and fetched == []
    assert model.data(model.index(0, 0)) == "patient 00001"
    assert model.data(model.index(PAGE + 5, 0)) == f"patient {PAGE + 6:05d}"
    assert fetched == [PAGE, PAGE]


def test_sorting_reruns_the_id_query_once_per_new_order(qapp):
    calls, fetched = [], []
    model = _model(calls, fetched)
    model.reload()
    model.sort(0, Qt.SortOrder.DescendingOrder)
    model.sort(0, Qt.SortOrder.DescendingOrder)  # the view re-applying its indicator: no new query
    assert calls == [(None, False), ("name", True)]
    assert model.data(model.index(0, 0)) == "patient 01000"
    model.sort(0, Qt.SortOrder.AscendingOrder)
    assert calls[-1] == ("name", False) and model.data(model.index(0, 0)) == "patient 00001"
