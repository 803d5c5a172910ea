"""Topic files: values, defaults, and errors that point at file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from feedwatch.config import ConfigError, load_topic, parse_duration, parse_topic
from feedwatch.model import SourceKind


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "topic.toml"
    path.write_text(text, encoding="utf-8")
    return path


GOOD = """\
[topic]
name = "Istanbul talks"
query = '(istanbul OR стамбул*) talks -"football"'
interval = "45s"

[[source]]
name = "Wire"
url = "https://example.org/world/rss"

[[source]]
telegram = "@some_channel"
interval = "2m"
backfill = 40

[[source]]
telegram = "https://t.me/s/other_channel"
enabled = false
"""


def test_good_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FEEDWATCH_TELEGRAM_BASE_URL", raising=False)
    topic = load_topic(write(tmp_path, GOOD))
    assert topic.name == "Istanbul talks"
    assert topic.interval == 45
    wire, chan, other = topic.sources
    assert (wire.kind, wire.interval, wire.url) == (SourceKind.FEED, 45,
                                                    "https://example.org/world/rss")
    assert (chan.kind, chan.channel, chan.name, chan.interval, chan.backfill) == (
        SourceKind.TELEGRAM, "some_channel", "@some_channel", 120, 40)
    assert chan.url == "https://t.me/s/some_channel"
    assert other.channel == "other_channel" and not other.enabled
    assert topic.enabled_sources == (wire, chan)


def test_telegram_base_url_from_file_then_env(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    text = GOOD + '\n[telegram]\nbase_url = "http://127.0.0.1:9999/"\n'
    monkeypatch.delenv("FEEDWATCH_TELEGRAM_BASE_URL", raising=False)
    assert load_topic(write(tmp_path, text)).sources[1].url == \
        "http://127.0.0.1:9999/s/some_channel"
    monkeypatch.setenv("FEEDWATCH_TELEGRAM_BASE_URL", "http://127.0.0.1:7777")
    assert load_topic(write(tmp_path, text)).sources[1].url == \
        "http://127.0.0.1:7777/s/some_channel"


@pytest.mark.parametrize(("value", "seconds"), [
    ("45s", 45), ("2m", 120), ("1h30m", 5400), ("1.5h", 5400), (30, 30), ("500ms", 0.5),
    ("1d", 86400),
])
def test_durations(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["", "soon", "5x", "-3s", 0, True, "1h 2"])
def test_bad_durations(value: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(value)


@pytest.mark.parametrize(("text", "line", "fragment"), [
    ('[topic]\nname = "x"\ncolour = "red"\n[[source]]\nurl = "https://a.example/"\n',
     3, "unknown key 'colour' in [topic]"),
    ('[topic]\ninterval = "soon"\n[[source]]\nurl = "https://a.example/"\n',
     2, "bad duration"),
    ('[[source]]\nurl = "https://a.example/"\n\n[[source]]\nurl = "ftp://b.example/"\n',
     5, "http:// or https://"),
    ('[[source]]\nurl = "https://a.example/x"\n[[source]]\nname = "b"\nurl = "https://a.example/x"\n',
     5, "duplicate source"),
    ('[[source]]\nname = "a"\nurl = "https://a.example/1"\n[[source]]\nname = "a"\n'
     'url = "https://a.example/2"\n', 5, "duplicate source name 'a'"),
    ('[[source]]\nname = "Wire\\u0000x"\nurl = "https://a.example/"\n', 2, "control characters"),
    ('[[source]]\nname = "\\u001b[31mRed"\nurl = "https://a.example/"\n', 2, "control characters"),
    ('[[source]]\ntelegram = "no spaces allowed"\n', 2, "telegram"),
    ('[[source]]\nurl = "https://a.example/"\ntelegram = "chan"\n', 1, "exactly one of"),
    ('[[source]]\nurl = "https://a.example/"\ninterval = "fast"\n', 3, "interval"),
    ('[topic\nname = "x"\n', 1, "invalid TOML"),
    ('[topic]\nname = "x"\n', 0, "no sources"),
    ('[topic]\nquery = "(unclosed"\n[[source]]\nurl = "https://a.example/"\n', 2, "query"),
])
def test_errors_name_file_and_line(tmp_path: Path, text: str, line: int, fragment: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_topic(path)
    message = str(info.value)
    assert f"{path}:{line}:" in message if line else f"{path}: " in message  # (whole file)
    assert fragment in message


def test_single_source_table_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[topic]\nname = "x"\n[source]\nurl = "https://a.example/"\n')
    with pytest.raises(ConfigError, match=r":3: sources must be declared as \[\[source\]\]"):
        load_topic(path)


def test_every_problem_is_reported_at_once() -> None:
    text = ('[topic]\nbogus = 1\n[[source]]\nurl = "nope"\n[[source]]\nurl = "https://a/"\n'
            'interval = "x"\n')
    with pytest.raises(ConfigError) as info:
        parse_topic(text, where="t.toml")
    assert [p.split(":")[1] for p in info.value.problems] == ["2", "4", "7"]
    # in the file's order, though [topic] is read before the sources above it
    with pytest.raises(ConfigError) as info:
        parse_topic('[[source]]\nurl = "nope"\n\n[topic]\nbogus = 1\n', where="t.toml")
    assert [p.split(":")[1] for p in info.value.problems] == ["2", "5"]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_topic(tmp_path / "nope.toml")
