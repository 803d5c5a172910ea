"""Shared fixtures: a loopback site with ETag support and the installed console script."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

DATA = Path(__file__).parent / "data"


@pytest.fixture(autouse=True)
def _no_slide_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    """A key acts on the highlighted row, whenever it comes: the live-mode grace (a key
    within a second of a new row taking the cursor acts on the row before) would make UI
    tests depend on the machine's speed. The test of the grace sets its own."""
    import feedwatch.ui.stream

    monkeypatch.setattr(feedwatch.ui.stream, "SLIDE_GRACE", 0.0)


@dataclass
class Served:
    body: bytes
    content_type: str = "application/rss+xml; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


class Site:
    """Mutable documents on a loopback HTTP server, with ETag/If-None-Match and a request log."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.docs: dict[str, Served] = {}
        self.log: list[tuple[str, str | None, int]] = []  # (path, If-None-Match, status)
        server.expect_request(path_matcher_any()).respond_with_handler(self._handle)

    def url(self, path: str) -> str:
        return self.server.url_for(path)

    def put(self, path: str, body: bytes | str, content_type: str | None = None, **kw: object
            ) -> str:
        data = body.encode("utf-8") if isinstance(body, str) else body
        served = Served(data, **({"content_type": content_type} if content_type else {}), **kw)  # type: ignore[arg-type]
        self.docs[path] = served
        return self.url(path)

    def _handle(self, request: Request) -> Response:
        doc = self.docs.get(request.path)
        inm = request.headers.get("If-None-Match")
        if doc is None:
            self.log.append((request.path, inm, 404))
            return Response("not found", status=404)
        etag = '"' + hashlib.sha1(doc.body).hexdigest()[:12] + '"'
        if doc.status == 200 and inm == etag:
            self.log.append((request.path, inm, 304))
            return Response(status=304, headers={"ETag": etag})
        self.log.append((request.path, inm, doc.status))
        headers = {"ETag": etag, **doc.headers} if doc.status == 200 else dict(doc.headers)
        return Response(doc.body, status=doc.status, content_type=doc.content_type,
                        headers=headers)

    def statuses(self, path: str) -> list[int]:
        return [status for p, _, status in self.log if p == path]


def path_matcher_any():
    import re

    return re.compile(".*")


@pytest.fixture
def site(httpserver: HTTPServer) -> Site:
    return Site(httpserver)


@pytest.fixture
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment for subprocesses: user dirs inside tmp_path, no proxies."""
    env = dict(os.environ)
    for key in list(env):
        if key.lower().endswith("_proxy") or key.startswith("FEEDWATCH_"):
            env.pop(key)
    env.update({
        "HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
        "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
        "XDG_STATE_HOME": str(tmp_path / "xdg-state"),
        "FEEDWATCH_LOG": str(tmp_path / "feedwatch.log"),
        "PYTHONUNBUFFERED": "1",
    })
    monkeypatch.setenv("FEEDWATCH_LOG", str(tmp_path / "feedwatch.log"))
    return env


def feedwatch_exe() -> list[str]:
    """The installed console script (the one users run), else the module."""
    script = Path(sys.executable).parent / "feedwatch"
    if script.exists():
        return [str(script)]
    found = shutil.which("feedwatch")
    return [found] if found else [sys.executable, "-m", "feedwatch"]


@pytest.fixture
def run_cli(isolated_env: dict[str, str]) -> Callable[..., subprocess.CompletedProcess[str]]:
    def run(*args: str, input: str | None = None, env: dict[str, str] | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*feedwatch_exe(), *args], capture_output=True, text=True,
                              input=input, env={**isolated_env, **(env or {})},
                              timeout=timeout, check=False)

    return run
