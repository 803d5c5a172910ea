"""OPML in and out: move a source list between feedwatch and other feed readers."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from xml.sax.saxutils import quoteattr

from .config import Topic, check_http_url
from .model import SourceKind


class OpmlError(ValueError):
    """An OPML file that cannot be read; ``str()`` says why."""


def export_opml(topic: Topic) -> str:
    """The topic's feed sources as OPML 2.0 (Telegram channels as their preview URLs)."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<opml version="2.0">',
             f"  <head><title>{_text(topic.name)}</title></head>", "  <body>"]
    for spec in topic.sources:
        url = spec.url if spec.kind is SourceKind.FEED else f"https://t.me/s/{spec.channel}"
        kind = "rss" if spec.kind is SourceKind.FEED else "link"
        lines.append(f"    <outline type={quoteattr(kind)} text={quoteattr(spec.name)} "
                     f"title={quoteattr(spec.name)} xmlUrl={quoteattr(url)}/>")
    lines += ["  </body>", "</opml>"]
    return "\n".join(lines) + "\n"


def _text(value: str) -> str:
    return quoteattr(value)[1:-1]


def import_opml(data: bytes) -> str:
    """``[[source]]`` TOML blocks for every feed outline (nested folders flattened)."""
    if b"<!DOCTYPE" in data[:4096] or b"<!ENTITY" in data[:4096]:
        raise OpmlError("OPML with a DOCTYPE or entities is not accepted")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise OpmlError(f"not valid OPML: {exc}") from None
    blocks, seen = [], set()
    for outline in root.iter("outline"):
        url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        if not url or url in seen:
            continue
        try:
            check_http_url(url)
        except ValueError:
            continue
        seen.add(url)
        name = (outline.get("title") or outline.get("text") or "").strip()
        block = ["[[source]]"]
        if name:
            block.append(f"name = {json.dumps(name, ensure_ascii=False)}")
        if url.startswith(("https://t.me/s/", "http://t.me/s/")):
            block.append(f"telegram = {json.dumps(url.rstrip('/').rsplit('/', 1)[-1])}")
        else:
            block.append(f"url = {json.dumps(url)}")
        blocks.append("\n".join(block))
    if not blocks:
        raise OpmlError("no feed outlines (xmlUrl) found")
    return "\n\n".join(blocks) + "\n"
