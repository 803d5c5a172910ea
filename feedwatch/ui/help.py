"""The `?` screen: keys, what the row marks mean, and the query language at a glance."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS: tuple[tuple[str, str], ...] = (
    ("j / k, ↓ / ↑", "move through the stream"),
    ("g / G", "newest (also jumps to ▲ new) / oldest"),
    ("space / b", "page down / up"),
    ("enter", "details: full text, every source, edits (enter again to scroll it)"),
    ("esc", "close details / leave an input / back to the stream"),
    ("o", "open the story's link in the browser (http/https only)"),
    ("/", "edit the filter; the whole history re-filters as you type"),
    ("ctrl+f", "search the stored history"),
    ("s", "sources: health, errors, next poll; m mutes, r polls one now"),
    ("m", "mute the selected story's source (unmute in sources)"),
    ("p", "pause / resume polling; resume catches up at once"),
    ("r", "poll every source now"),
    ("a", "mark everything read"),
    ("ctrl+p", "command palette"),
    ("q, ctrl+c", "quit"),
)

MARKS: tuple[tuple[str, str], ...] = (
    ("●", "new since you opened feedwatch, not looked at yet"),
    ("◆", "another source reported it, or it changed, since you looked"),
    ("+N", "N more sources reported the same story"),
    ("edited", "the source corrected the text after publishing"),
    ("red title", "matches the topic's alert query"),
    ("▲ N new", "stories arrived above while you were reading below; g jumps up"),
)

QUERY: tuple[tuple[str, str], ...] = (
    ("istanbul talks", "both words (AND)"),
    ("istanbul OR стамбул*", "either word (* also finds Стамбуле)"),
    ('"prisoner exchange"', "the exact phrase"),
    ("-football", "without the word"),
    ("negotiat*", "any word starting with it"),
    ("source:reuters", "field: title: text: source: url: lang:"),
    ("( … )", "grouping; OR binds tighter than AND"),
)


def _table(title: str, rows: tuple[tuple[str, str], ...]) -> Table:
    table = Table(title=title, title_justify="left", show_header=False, box=None,
                  padding=(0, 2, 0, 0), title_style="bold")
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for key, meaning in rows:
        table.add_row(Text(key), Text(meaning))
    return table


class HelpScreen(ModalScreen[None]):
    """Keys and legend in a dismissable box."""

    BINDINGS: list[BindingType] = [  # noqa: RUF012 - Textual's idiom
        Binding("escape,q,question_mark", "dismiss", "Close"),
        Binding("ctrl+c", "app.quit", "Quit", show=False),
        Binding("j,down", "scroll('down')", "Down", show=False),
        Binding("k,up", "scroll('up')", "Up", show=False),
        Binding("space,pagedown", "scroll('page_down')", "Page down", show=False),
        Binding("b,pageup", "scroll('page_up')", "Page up", show=False),
        Binding("g,home", "scroll('home')", "Top", show=False),
        Binding("G,end", "scroll('end')", "Bottom", show=False),
    ]

    def action_scroll(self, where: str) -> None:
        """The same keys as the stream: j/k, space/b, g/G."""
        box = self.query_one("#help-box", VerticalScroll)
        getattr(box, f"scroll_{where}")(animate=False)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(_table("Keys", KEYS))
            yield Static(_table("Marks in the stream", MARKS), classes="help-section")
            yield Static(_table("Filter & search queries", QUERY), classes="help-section")
            yield Static(Text("esc closes · ctrl+p lists every command", justify="right"),
                         classes="help-hint")
