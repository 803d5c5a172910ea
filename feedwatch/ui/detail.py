"""The detail pane: a cluster's full text, every source that reported it, and edit history."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, tzinfo

from rich.console import Group
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static

from ..model import Update
from ..store import Revision
from ..textutil import is_safe_link
from .rows import Span, flatten, full_time, local, spans_for


@dataclass(frozen=True, slots=True)
class Detail:
    """Everything the pane shows for one cluster, loaded off the event loop."""

    headline: Update
    members: list[Update]
    revisions: dict[int, list[Revision]] = field(default_factory=dict)


def _safe(text: str, *, keep_newlines: bool = False) -> str:
    return flatten(text, keep_newlines=keep_newlines).text


class DetailPane(VerticalScroll, can_focus=True):
    """Scrollable text of the selected cluster; the app feeds it with :meth:`show`."""

    BINDINGS: list[BindingType] = [  # noqa: RUF012 - Textual's idiom
        Binding("escape", "close", "Close"),
        Binding("j,down", "scroll_down", "Down", show=False),
        Binding("k,up", "scroll_up", "Up", show=False),
    ]

    COMPONENT_CLASSES = {  # noqa: RUF012
        "detail--title", "detail--meta", "detail--link", "detail--unsafe", "detail--heading",
        "detail--match", "detail--old", "detail--source",
    }

    def __init__(self, *, tz: tzinfo | None = None, today: Callable[[], date] | None = None,
                 highlighter: Callable[[Update], list[Span]] | None = None,
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.tz = tz
        self._today = today or date.today
        self.highlighter = highlighter or (lambda _: [])
        self.detail: Detail | None = None
        self.rendered: Group | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="detail-body")

    class CloseRequested(Message):
        """The user pressed escape in the pane."""

    def action_close(self) -> None:
        self.post_message(self.CloseRequested())

    def show_loading(self, update: Update) -> None:
        self.query_one("#detail-body", Static).update(
            Text(_safe(update.title or update.text)[:200] + "\n\nloading…"))

    def show(self, detail: Detail) -> None:
        """Show a cluster; a refresh of the same cluster keeps the reader's scroll position."""
        same = self.detail is not None and self.detail.headline.id == detail.headline.id
        self.detail = detail
        self.rendered = self.render_detail(detail)
        self.query_one("#detail-body", Static).update(self.rendered)
        if not same:
            self.scroll_home(animate=False)

    def _s(self, name: str) -> Style:
        return self.get_component_rich_style(name, partial=True)

    def _highlighted(self, update: Update, field_name: str, raw: str,
                     style: Style | None = None) -> Text:
        flat = flatten(raw, keep_newlines=field_name == "text")
        text = Text(flat.text, style=style or Style(), end="")
        for start, end in spans_for(self.highlighter(update), field_name, 0, flat, len(raw)):
            text.stylize(self._s("detail--match"), start, end)
        return text

    def _link(self, url: str | None) -> Text:
        if not url:
            return Text("no link", self._s("detail--meta"))
        shown = _safe(url)
        if is_safe_link(url):
            return Text(shown, self._s("detail--link"))
        return Text(f"{shown}  (not an http(s) link: will not be opened)",
                    self._s("detail--unsafe"))

    def render_detail(self, detail: Detail) -> Group:
        head = detail.headline
        out = Text(end="")
        if head.title.strip():
            out.append_text(self._highlighted(head, "title", head.title, self._s("detail--title")))
            out.append("\n")
        meta = f"{_safe(head.source)} · {full_time(head.published, self.tz)}"
        if head.author:
            meta += f" · {_safe(head.author)}"
        if head.edited:
            meta += f" · edited (revision {head.revision})"
        if head.views is not None:
            meta += f" · {head.views:,} views"
        if head.forwarded_from:
            meta += f" · forwarded from {_safe(head.forwarded_from)}"
        out.append(meta + "\n", self._s("detail--meta"))
        out.append_text(self._link(head.url))
        out.append("\n\n")
        # Say each thing once: a photo-only post arrives as title "[photo]", text "[photo]"
        # and media ("photo",), and a post without a title may repeat its text as title.
        shown = {_safe(head.title)}
        if head.text.strip() and _safe(head.text) not in shown:
            out.append_text(self._highlighted(head, "text", head.text))
            out.append("\n")
            shown.add(_safe(head.text))
        if head.media:
            marker = f"[{', '.join(_safe(m) for m in head.media)}]"
            if marker not in shown:
                out.append(marker + "\n", self._s("detail--meta"))

        sources = len({m.source for m in detail.members}) or 1
        items = len(detail.members)
        heading = Text(f"\n── Reported by {sources} source{'s' if sources != 1 else ''} "
                       f"({items} item{'s' if items != 1 else ''}) ──",
                       self._s("detail--heading"))
        members = Table.grid(padding=(0, 2))
        members.add_column(no_wrap=True)
        members.add_column(ratio=1)
        for member in detail.members:
            moment = local(member.published, self.tz)
            stamp = moment.strftime("%H:%M") if moment.date() == self._today() \
                else moment.strftime("%d %b %H:%M")
            cell = Text(end="")
            cell.append(_safe(member.source), self._s("detail--source"))
            if member.edited:
                cell.append("  edited", self._s("detail--meta"))
            title = member.title.strip() or member.text.strip().split("\n")[0]
            if member.id != head.id and title:
                cell.append("\n" + _safe(title)[:300])
            cell.append("\n")
            cell.append_text(self._link(member.url))
            members.add_row(Text(stamp, self._s("detail--meta")), cell)
        return Group(out, heading, members, self._revisions(detail))

    def _revisions(self, detail: Detail) -> Text:
        out = Text(end="")
        revised = [(m, detail.revisions.get(m.id, [])) for m in detail.members]
        revised = [(m, revs) for m, revs in revised if revs]
        if revised:
            out.append("\n── Revision history ──\n", self._s("detail--heading"))
            for member, revs in revised:
                out.append(f"{_safe(member.source)}: {len(revs)} earlier "
                           f"version{'s' if len(revs) != 1 else ''}\n", self._s("detail--source"))
                for rev in revs:
                    out.append(f"revision {rev.revision}, replaced "
                               f"{full_time(rev.replaced_at, self.tz)}:\n",
                               self._s("detail--meta"))
                    if rev.title.strip():
                        out.append(f"{_safe(rev.title)}\n", self._s("detail--old"))
                    body = _safe(rev.text, keep_newlines=True)
                    if body:
                        out.append(body + "\n", self._s("detail--old"))
                out.append("now: ", self._s("detail--meta"))
                out.append(f"{_safe(member.title or member.text)[:300]}\n")
        return out
