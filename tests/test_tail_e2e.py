"""`feedwatch tail`: live lines as items appear; a clean stop; a restart repeats nothing."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from conftest import Site, feedwatch_exe


def rss(n: int) -> str:
    items = "".join(
        f"<item><title>Update number {i}</title><guid>g{i}</guid>"
        f"<pubDate>Mon, 02 Jun 2025 10:{i:02d}:00 +0000</pubDate></item>" for i in range(n))
    return f'<rss version="2.0"><channel><title>w</title>{items}</channel></rss>'


class Tail:
    def __init__(self, cfg: Path, db: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen([*feedwatch_exe(), "tail", "-c", str(cfg), "--db", str(db)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=env)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def read(self, n: int, timeout: float = 15) -> list[dict[str, Any]]:
        out, deadline = [], time.monotonic() + timeout
        while len(out) < n and time.monotonic() < deadline:
            try:
                out.append(json.loads(self.lines.get(timeout=0.1)))
            except queue.Empty:
                continue
        return out

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=15)


def test_tail_streams_new_items_and_resumes_without_repeats(
        tmp_path: Path, site: Site, isolated_env: dict[str, str]) -> None:
    site.put("/w.xml", rss(2))
    cfg = tmp_path / "t.toml"
    cfg.write_text(f'[topic]\ninterval = "0.3s"\n[[source]]\nurl = "{site.url("/w.xml")}"\n',
                   encoding="utf-8")
    db = tmp_path / "fw.db"
    tail = Tail(cfg, db, isolated_env)
    try:
        assert [r["title"] for r in tail.read(2)] == ["Update number 0", "Update number 1"]
        site.put("/w.xml", rss(3))
        assert [r["title"] for r in tail.read(1)] == ["Update number 2"]
    finally:
        code = tail.stop()
    assert code == 0
    assert tail.proc.stderr is not None and "Traceback" not in tail.proc.stderr.read()

    site.put("/w.xml", rss(4))
    again = Tail(cfg, db, isolated_env)
    try:
        assert [r["title"] for r in again.read(1)] == ["Update number 3"]
        assert again.read(1, timeout=1.5) == []  # nothing repeated
    finally:
        code = again.stop(signal.SIGINT)  # Ctrl-C: interrupted, as the README says
    assert code == 130
