"""Query inputs: the live filter bar and the history search box, debounced, with inline errors.

The bar only reports text; the app decides whether it parses (method calls down show the
error), so the last valid query keeps working while the user types a broken one.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input, Label, Static

DEBOUNCE = 0.15


class QueryBar(Vertical):
    """A one-line query input with a prompt, a status on the right and an error line."""

    BINDINGS: list[BindingType] = [  # noqa: RUF012 - Textual's idiom
        Binding("escape", "done", "Back"),  # (to the stream; short: the footer fits)
    ]

    class Changed(Message):
        """The query text settled (debounced) or was submitted."""

        def __init__(self, bar: QueryBar, text: str, submitted: bool) -> None:
            super().__init__()
            self.bar = bar
            self.text = text
            self.submitted = submitted

        @property
        def control(self) -> QueryBar:
            return self.bar

    class Done(Message):
        """The user left the bar (enter or escape)."""

        def __init__(self, bar: QueryBar) -> None:
            super().__init__()
            self.bar = bar

        @property
        def control(self) -> QueryBar:
            return self.bar

    def __init__(self, prompt: str, value: str = "", *, placeholder: str = "",
                 live: bool = True, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._prompt = prompt
        self._value = value
        self._placeholder = placeholder
        self._live = live
        self._timer: Timer | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(classes="query-row"):
            yield Label(Text(self._prompt), classes="query-prompt")
            yield Input(self._value, placeholder=self._placeholder, compact=True,
                        select_on_focus=False, classes="query-input")
            yield Label("", classes="query-status")
        yield Static("", classes="query-error")

    @property
    def input(self) -> Input:
        return self.query_one(Input)

    @property
    def value(self) -> str:
        return self.input.value

    def focus_input(self) -> None:
        # At once, not on the next turn of the loop as Widget.focus does: keys that came in
        # the same burst as "/" (a paste, a laggy link) must reach the input, not the stream
        # ("/qatar" would quit).
        self.screen.set_focus(self.input)
        self.input.cursor_position = len(self.input.value)

    def show_error(self, message: str, column: int | None = None) -> None:
        """Show why the text does not parse, with a caret under the culprit when the column
        is known; the previous valid query stays active meanwhile."""
        self.add_class("-invalid")
        if column is not None:
            indent = cell_len(self._prompt) + 1 + cell_len(self.input.value[: column - 1])
            indent -= self.input.scroll_offset.x
            message = " " * max(indent, 0) + "^ " + message
        self.query_one(".query-error", Static).update(Text(message))

    def clear_error(self) -> None:
        self.remove_class("-invalid")
        self.query_one(".query-error", Static).update("")

    def set_status(self, status: str) -> None:
        self.query_one(".query-status", Label).update(Text(status))

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        if not self._live:
            return
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(DEBOUNCE, self._settle)

    def _settle(self) -> None:
        self._timer = None
        self.post_message(self.Changed(self, self.input.value, submitted=False))

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        self.post_message(self.Changed(self, event.value, submitted=True))

    def action_done(self) -> None:
        self.post_message(self.Done(self))


class SearchBar(QueryBar):
    """The history search box: esc leaves it for its results, not for the stream."""

    BINDINGS: list[BindingType] = [  # noqa: RUF012 - Textual's idiom
        Binding("escape", "done", "Back"),  # (to the results; short: the footer fits)
    ]
