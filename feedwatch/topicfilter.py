"""A topic's queries as predicates: what is kept (require), shown (query, mute) and alerted.

DESIGN: store everything, filter at view time. Only ``require`` acts at ingest; the others
decide what views show, so editing them re-applies to the whole history.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from .config import Topic
from .model import Entry, Update
from .query import Document, FtsExact, Query, parse


@dataclass(frozen=True, slots=True)
class _EntryDoc:
    title: str
    text: str
    source: str
    url: str | None
    lang: str | None


@dataclass(frozen=True, slots=True)
class IndexAnswers:
    """What the full-text index says of the view queries (see :meth:`TopicFilter.answers`):
    ids each matches, exact for updates outside ``not_plain``; None where the query has no
    exact FTS5 form and the matcher must decide."""

    query: set[int] | None
    mute: set[int] | None
    not_plain: set[int]


def _maybe(text: str | None) -> Query | None:
    return parse(text) if text and text.strip() else None


class TopicFilter:
    """Compiled queries of a topic. ``query`` can be replaced live (the filter bar)."""

    def __init__(self, topic: Topic) -> None:
        self.require = _maybe(topic.require)
        self.query = _maybe(topic.query)
        self.mute = _maybe(topic.mute)
        self.alert_query = _maybe(topic.alert)
        self.since: datetime | None = topic.since
        self.per_source = {s.name: parse(s.query) for s in topic.sources if s.query}

    def set_query(self, text: str) -> Query | None:
        """Replace the view query; raises QueryError (and keeps the old one) when invalid."""
        self.query = _maybe(text)
        return self.query

    def keep(self, entry: Entry, source: str) -> bool:
        """Ingest-time: drop entries that cannot be relevant (the topic's ``require``)."""
        if self.require is None:
            return True
        return self.require.matches(_EntryDoc(entry.title, entry.text, source, entry.url,
                                              entry.lang))

    def show(self, update: Document) -> bool:
        if self.query is not None and not self.query.matches(update):
            return False
        source_query = self.per_source.get(update.source)
        if source_query is not None and not source_query.matches(update):
            return False
        return not (self.mute is not None and self.mute.matches(update))

    def hides(self, update: Document) -> bool:
        """The topic's ``mute`` query hides this update (whatever else matches)."""
        return self.mute is not None and self.mute.matches(update)

    def alert(self, update: Update) -> bool:
        if self.alert_query is None or not self.show(update):
            return False
        if self.since is not None and update.published < self.since:
            return False
        return self.alert_query.matches(update)

    def answers(self, fts_exact: Callable[[FtsExact], set[int]],
                not_plain: Callable[[], set[int]]) -> IndexAnswers | None:
        """Ask the index (the store's ``fts_exact`` and ``not_plain``) for the view queries'
        answers; None when neither ``query`` nor ``mute`` has an exact FTS5 form."""
        forms = [q.fts_exact() if q is not None else None for q in (self.query, self.mute)]
        if forms == [None, None]:
            return None
        query, mute = (fts_exact(f) if f is not None else None for f in forms)
        return IndexAnswers(query, mute, not_plain())

    def prejudge(self, answers: IndexAnswers, update_id: int, source: str) -> bool | None:
        """:meth:`show` for an update from the index's answers alone; None when the matcher
        must decide (a text FTS5 reads otherwise, a source's own query, an inexact query)."""
        if update_id in answers.not_plain or source in self.per_source:
            return None
        if self.query is not None:
            if answers.query is None:
                return None
            if update_id not in answers.query:
                return False
        if self.mute is None:
            return True
        return None if answers.mute is None else update_id not in answers.mute

    def prejudge_hides(self, answers: IndexAnswers, update_id: int) -> bool | None:
        """:meth:`hides` from the index's answers alone, or None."""
        if self.mute is None:
            return False
        if answers.mute is None or update_id in answers.not_plain:
            return None
        return update_id in answers.mute

    def highlights(self, update: Update) -> list[tuple[str, int, int]]:
        return self.query.highlights(update) if self.query is not None else []
