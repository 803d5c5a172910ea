"""The sources panel: health, timing and errors of every source, and muting."""

from __future__ import annotations

from datetime import datetime, tzinfo

from rich.style import Style
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.coordinate import Coordinate
from textual.message import Message
from textual.widgets import DataTable

from ..config import SourceSpec
from ..model import Health, SourceState
from .rows import ago, flatten, local

COLUMNS = (("health", " "), ("source", "Source"), ("status", "Status"),
           ("last_ok", "Last success"), ("next", "Next poll"), ("items", "Items"),
           ("error", "Last error"))


class SourcesPanel(DataTable[Text]):
    """One row per configured source; `m` mutes, `r` polls the selected source now."""

    BINDINGS: list[BindingType] = [  # noqa: RUF012 - Textual's idiom
        Binding("m", "toggle_mute", "Mute"),
        Binding("m", "toggle_mute('unmute')", "Unmute"),  # (check_action shows one of two)
        Binding("r", "refresh_source", "Poll"),
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    COMPONENT_CLASSES = {  # noqa: RUF012
        "sources--ok", "sources--failing", "sources--disabled", "sources--waiting",
        "sources--muted", "sources--dim", "sources--warning",
    }

    class MuteToggled(Message):
        def __init__(self, source: str) -> None:
            super().__init__()
            self.source = source

    class RefreshRequested(Message):
        def __init__(self, source: str) -> None:
            super().__init__()
            self.source = source

    def __init__(self, specs: tuple[SourceSpec, ...], *, tz: tzinfo | None = None,
                 id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.specs = specs
        self.tz = tz
        self.states: dict[str, SourceState] = {}
        self.muted: set[str] = set()
        self.paused = False

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key)
        for spec in self.specs:
            self.add_row(*self._cells(spec.name, None), key=spec.name)

    def _s(self, name: str) -> Style:
        return self.get_component_rich_style(name, partial=True)

    def _cells(self, name: str, now: datetime | None) -> list[Text]:
        state = self.states.get(name) or SourceState(name)
        spec = next((s for s in self.specs if s.name == name), None)
        health = state.health
        if spec is not None and not spec.enabled:
            health = Health.DISABLED
        dot, status, style = {
            Health.OK: ("●", "ok", "sources--ok"),
            Health.FAILING: ("●", f"failing ×{state.failures}", "sources--failing"),
            Health.DISABLED: ("○", "disabled", "sources--disabled"),
            Health.NEW: ("○", "waiting", "sources--waiting"),
        }[health]
        muted = name in self.muted
        status_text = Text(status, self._s(style))
        if muted:
            status_text.append(" · muted", self._s("sources--muted"))
        last_ok = "never"
        if state.last_ok is not None:
            last_ok = local(state.last_ok, self.tz).strftime("%H:%M:%S")
            if now is not None:
                last_ok += f" ({ago(state.last_ok, now)})"
        if health is Health.DISABLED:
            nxt = "—"
        elif self.paused:
            nxt = "paused"
        elif state.next_due is None:
            nxt = "soon"
        else:
            nxt = ago(state.next_due, now) if now is not None else \
                local(state.next_due, self.tz).strftime("%H:%M:%S")
            if nxt.endswith("ago") or nxt == "now":
                nxt = "due now"
        error = state.disabled_reason or state.last_error or ""
        warning = "" if error or not state.warning else f"warning: {state.warning}"
        return [
            Text(dot, self._s(style)),
            Text(flatten(name).text, self._s("sources--muted") if muted else Style()),
            status_text,
            Text(last_ok, self._s("sources--dim")),
            Text(nxt),
            Text(f"{state.items:,}", justify="right"),
            Text(flatten(error).text[:200], self._s("sources--failing")) if error else
            Text(flatten(warning).text[:200], self._s("sources--warning")),
        ]

    def update_states(self, states: dict[str, SourceState], muted: set[str],
                      now: datetime | None, paused: bool) -> None:
        """Refresh every cell in place (the cursor stays where it is)."""
        self.states = dict(states)
        if set(muted) != self.muted:
            self.muted = set(muted)
            self.refresh_bindings()
        self.paused = paused
        if not self.columns:
            return
        for name in (s.name for s in self.specs):
            if name not in self.rows:
                self.add_row(*self._cells(name, now), key=name)
                continue
            for (key, _), cell in zip(COLUMNS, self._cells(name, now), strict=True):
                self.update_cell(name, key, cell, update_width=True)

    def note(self) -> Text:
        """The selected source's whole error or warning: its column is cut on a narrow
        terminal, and a long message is cut at 200 characters in the table."""
        name = self.selected_source
        state = self.states.get(name) if name is not None else None
        if name is None or state is None:
            return Text("")
        error = state.disabled_reason or state.last_error
        message, style = (error, "sources--failing") if error else \
            (f"warning: {state.warning}" if state.warning else "", "sources--warning")
        if not message:
            return Text("")
        return Text.assemble((f"{flatten(name).text}: ", Style(bold=True)),
                             (flatten(message).text, self._s(style)))

    @property
    def selected_source(self) -> str | None:
        if not self.row_count:
            return None
        key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return key.value

    def action_toggle_mute(self, _label: str = "mute") -> None:
        name = self.selected_source
        if name is not None:
            self.post_message(self.MuteToggled(name))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The footer names what `m` does to the selected source: mute, or unmute."""
        if action == "toggle_mute":
            muted = self.selected_source in self.muted
            return muted if parameters == ("unmute",) else not muted
        return True

    def watch_cursor_coordinate(self, old: Coordinate, new: Coordinate) -> None:
        super().watch_cursor_coordinate(old, new)
        self.refresh_bindings()

    def action_refresh_source(self) -> None:
        name = self.selected_source
        if name is not None:
            self.post_message(self.RefreshRequested(name))
