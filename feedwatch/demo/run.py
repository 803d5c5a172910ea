"""``feedwatch demo``: the replay server and the dashboard (or tail output) together."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from ..config import load_topic
from ..store import Store, StoreError
from .server import DemoServer


def run_demo(*, speed: float = 30.0, headless: bool = False, port: int = 0,
             db: str | None = None, interval: str = "5s") -> int:
    """Serve the story on loopback and watch it; a fresh database each run unless --db."""
    with tempfile.TemporaryDirectory(prefix="feedwatch-demo-") as tmp, \
            DemoServer(speed, port) as server:
        config = Path(tmp) / "demo.toml"
        config.write_text(server.topic_toml(interval=interval), encoding="utf-8")
        topic = load_topic(config)
        try:
            store = Store(db or Path(tmp) / "demo.db")
        except StoreError as exc:
            print(f"feedwatch: {exc}", file=sys.stderr)
            return 3
        try:
            if headless:
                from ..cli import _run_tail
                from ..output import Sink

                print(f"feedwatch demo: replay on {server.base_url}, speed ×{speed:g}; "
                      "Ctrl-C to stop", file=sys.stderr, flush=True)
                return _run_tail(topic, store, Sink(sys.stdout, "text"))
            from ..ui.app import run_dashboard

            return run_dashboard(topic, store, subtitle=f"demo replay ×{speed:g}")
        finally:
            store.close()
