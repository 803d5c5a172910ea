"""Public Telegram channels, read from their web preview pages ``https://t.me/s/<channel>``.

A pure parser: page bytes in, :class:`ChannelPage` out. No account, no API key, no I/O. The
markup it understands is described in DESIGN.md ("Field notes"); when a page stops looking like
that, it raises :class:`LayoutChangedError` rather than quietly reporting "nothing new".
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from urllib.parse import parse_qs, urljoin, urlsplit, urlunsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from feedwatch.model import Entry
from feedwatch.textutil import canonical_url, clean_text, first_line, safe_link, truncate

__all__ = [
    "ChannelPage",
    "LayoutChangedError",
    "NoPublicPreviewError",
    "NotTelegramPageError",
    "TelegramPageError",
    "TelegramPost",
    "channel_from_spec",
    "derive_title",
    "parse_channel_page",
    "parse_views",
]

# ---------------------------------------------------------------------------------------------
# Channel specs


_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{2,63}")
_TELEGRAM_HOSTS = frozenset({"t.me", "telegram.me", "telegram.dog"})
# First path segments of t.me links that never name a public channel.
_NOT_CHANNELS = frozenset({
    "joinchat", "c", "addstickers", "addemoji", "addtheme", "addlist", "share", "proxy",
    "socks", "iv", "login", "setlanguage", "confirmphone", "invoice", "bg", "boost",
    "contact", "m", "k", "a", "z", "dl", "apps", "blog", "faq", "privacy",
})  # fmt: skip


def channel_from_spec(spec: str) -> str:
    """The bare channel name from what a user may type: ``name``, ``@name`` or a t.me link.

    Accepts ``t.me/name``, ``https://t.me/s/name``, ``t.me/s/name/123`` (a post link),
    ``telegram.me/name`` and ``tg://resolve?domain=name``. Raises ValueError for anything else.
    """
    s = spec.strip()
    if not s:
        raise ValueError("empty Telegram channel: give a name such as 'channel' or a t.me link")
    if s.startswith("@"):
        name = s[1:]
    elif s.lower().startswith("tg://"):
        name = (parse_qs(urlsplit(s).query).get("domain") or [""])[0]
    elif "/" in s or "." in s:
        name = _channel_from_link(spec, s)
    else:
        name = s
    if not _NAME.fullmatch(name):
        raise ValueError(
            f"{spec.strip()!r} is not a valid Telegram channel name: expected 3–64 letters, "
            "digits or underscores starting with a letter (e.g. 'channel' or 't.me/channel')"
        )
    return name


def _channel_from_link(spec: str, s: str) -> str:
    """The channel segment of a t.me link; ValueError for links that name no public channel."""
    parts = urlsplit(s if "://" in s else "https://" + s)
    host = (parts.hostname or "").lower()
    host = host.removeprefix("www.")
    if host not in _TELEGRAM_HOSTS:
        raise ValueError(
            f"{spec.strip()!r} is not a Telegram channel link (expected t.me/<channel>)"
        )
    segments = [p for p in parts.path.split("/") if p]
    if segments[:1] == ["s"]:
        segments = segments[1:]
    if not segments:
        raise ValueError(f"{spec.strip()!r} names no channel (expected t.me/<channel>)")
    name = segments[0]
    if name.startswith("+") or name.lower() in _NOT_CHANNELS:
        raise ValueError(
            f"{spec.strip()!r} is not a public channel link: invite links and private chats "
            "have no public preview"
        )
    if len(segments) > 2 or (len(segments) == 2 and not segments[1].isdigit()):
        raise ValueError(f"{spec.strip()!r} is not a channel or post link (t.me/<channel>[/id])")
    return name


# ---------------------------------------------------------------------------------------------
# Titles

# Leading characters that decorate rather than say something: emoji, symbols, bullets.
_DECOR_CATEGORIES = frozenset({"So", "Sk", "Cf", "Mn", "Me", "Zs", "Co"})
_DECOR_CHARS = frozenset("‼⁉•·*|>»→—–~_:!.\u200b\u200c\u200d\ufe0f\u20e3\t ")
_MARKER = re.compile(
    r"""(
        breaking(?:\s+news)? | just\s+in | urgent | flash | developing | exclusive
      | updated? | upd | adding | added | more | also | correction
      | срочно | молния | важно | эксклюзив | дополнение | подробнее | добавим | обновление
      | апд | ещё | еще
      | терміново | блискавка | доповнення | оновлено
      | son\s+dak[iİıI]ka | última\s+hora | eilmeldung
      | عاجل | فوري | فوری | מבזק | דחוף
    )(?=\W|$)""",
    re.IGNORECASE | re.VERBOSE,
)
_MARKER_DELIMITERS = (":", "!", "|", "—", "–", "-", ".")


def _strip_decor(line: str) -> str:
    """Drop leading emoji, symbols and bullets."""
    i = 0
    while i < len(line) and (
        line[i] in _DECOR_CHARS or unicodedata.category(line[i]) in _DECOR_CATEGORIES
    ):
        i += 1
    return line[i:]


def _strip_markers(line: str) -> str:
    """Drop leading "BREAKING:"-style markers (and the emoji around them) from one line; what
    they opened starts a headline, so a lower-case first word gets its capital ("Update:
    talks resume" → "Talks resume"; "iPhone", "eBay", "bbc.com" stay as written)."""
    stripped = False
    for _ in range(4):
        line = _strip_decor(line)
        m = _MARKER.match(line)
        if not m:
            break
        rest = line[m.end() :].lstrip()
        word = m.group(1)
        # "More:" is a marker, "More people fled" is a sentence; "СРОЧНО Путин заявил" opens
        # with a marker, but in a line all in capitals ("MORE THAN 50 KILLED") it is a word.
        if (
            not rest
            or rest.startswith(_MARKER_DELIMITERS)
            or unicodedata.category(rest[0]) in ("So", "Sk")
            or (word.isupper() and len(word) > 2 and not rest.isupper())
        ):
            line, stripped = rest, True
        else:
            break
    line = line.strip()
    if stripped and line[:1].islower():
        first = line.split(maxsplit=1)[0]
        if first.islower() and not any(c in first for c in "/.@#:"):  # (links, domains …)
            line = line[0].title() + line[1:]
    return line


# A line of nothing but tags ("#Beirut #update") files the post; it does not say what happened.
_HASHTAGS_ONLY = re.compile(r"(?:[#$]\w[\w@.]*[\s,;|·•]*)+")


def derive_title(text: str, limit: int = 120) -> str:
    """A headline for an untitled post: its first meaningful line, markers stripped.

    Channels open posts with "❗️", "BREAKING:", "СРОЧНО", "More:" …; those say nothing about the
    story and would defeat title matching, so the title drops them (the text keeps them). A
    first line that is only markers, or only hashtags, gives way to the next line.
    """
    for raw in text.split("\n"):
        line = _strip_markers(raw.strip())
        if line and not _HASHTAGS_ONLY.fullmatch(line):
            return truncate(line, limit)
    return first_line(text, limit)


# ---------------------------------------------------------------------------------------------
# Page model and errors


@dataclass(frozen=True, slots=True)
class TelegramPost:
    """One post of a channel page: its numeric id and the entry read from it."""

    id: int
    entry: Entry


@dataclass(frozen=True, slots=True)
class ChannelPage:
    """A parsed preview page: posts oldest → newest as on the page, and the older-page cursor."""

    channel: str
    title: str | None
    posts: tuple[TelegramPost, ...]
    before: int | None = None  # id for /s/<channel>?before=<id>, the next older page

    @property
    def newest_id(self) -> int | None:
        return max((p.id for p in self.posts), default=None)

    @property
    def oldest_id(self) -> int | None:
        return min((p.id for p in self.posts), default=None)


class TelegramPageError(Exception):
    """A page that cannot be read as a channel preview; ``str()`` is a sentence for the user."""

    def __init__(self, message: str, *, channel: str | None = None) -> None:
        super().__init__(message)
        self.channel = channel


class NoPublicPreviewError(TelegramPageError):
    """The channel has no public web preview (or does not exist)."""


class LayoutChangedError(TelegramPageError):
    """The page came back but holds no recognisable posts: Telegram's markup probably changed."""


class NotTelegramPageError(TelegramPageError):
    """The answer is no Telegram page at all: a block page, captive portal, proxy or bot check."""


# ---------------------------------------------------------------------------------------------
# Parsing


def parse_channel_page(
    body: bytes | str, channel: str, *, permalink_base: str = "https://t.me"
) -> ChannelPage:
    """Read one ``t.me/s/<channel>`` page.

    ``permalink_base`` is the origin post links are built on (the demo server passes its own).
    Raises :class:`NoPublicPreviewError` for a landing page without preview and
    :class:`LayoutChangedError` for a page without recognisable posts; an existing channel's
    preview with no posts yet gives an empty page.
    """
    base = permalink_base.rstrip("/")
    html = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    html = html.removeprefix("\ufeff")
    if "tgme_" not in html and not _TELEGRAM_SITE.search(html, 0, 65536):
        raise _foreign_page_error(html, channel, base)
    tree = LexborHTMLParser(html)

    widgets = tree.css("div.tgme_widget_message")
    title = _channel_title(tree)
    if not widgets:
        # A channel with no posts yet still has its info header and nothing post-like.
        if tree.css_first(".tgme_channel_info") and not tree.css_first(
            "[data-post], .tgme_widget_message_wrap, .js-widget_message"
        ):
            return ChannelPage(channel, title, (), _before(tree))
        raise _no_posts_error(tree, channel, base)

    posts: list[TelegramPost] = []
    candidates = 0  # non-service widgets with a data-post: if none parse, the markup moved on
    for widget in widgets:
        data_post = (widget.attributes.get("data-post") or "").strip()
        if not data_post or _is_service(widget):
            continue
        candidates += 1
        post = _parse_post(widget, data_post, base)
        if post is not None:
            posts.append(post)
    if not posts and (candidates or not any(_is_service(w) for w in widgets)):
        raise _layout_error(channel, base)
    return ChannelPage(channel, title, tuple(posts), _before(tree))


def _no_posts_error(tree: LexborHTMLParser, channel: str, base: str) -> TelegramPageError:
    """The error for a page without message widgets: a landing page, or an unknown layout."""
    landing = tree.css_first(".tgme_page, .tgme_page_title, [class*='tgme_action_button']")
    body = tree.body
    words = " ".join(body.text(separator=" ").split()) if body is not None else ""
    if landing is not None or "Preview channel" in words or "you can contact" in words:
        if tree.css_first("a.tgme_page_context_link[href*='/s/']"):
            return NoPublicPreviewError(
                f"got the landing page of Telegram channel @{channel} instead of its preview; "
                f"read {base}/s/{channel}",
                channel=channel,
            )
        return NoPublicPreviewError(
            f"Telegram channel @{channel} has no public web preview ({base}/s/{channel} "
            "shows only its landing page) or does not exist; only public channels with a "
            "preview can be watched",
            channel=channel,
        )
    return _layout_error(channel, base)


# Every t.me page is built of tgme_* classes; a redesign would still name the site.
_TELEGRAM_SITE = re.compile(
    r"""<meta[^>]{1,300}?og:site_name[^>]{1,300}?content=["']Telegram["']"""
    r"""|<link[^>]{1,300}?canonical[^>]{1,300}?href=["']https?://t\.me/""", re.IGNORECASE)


def _foreign_page_error(html: str, channel: str, base: str) -> NotTelegramPageError:
    """Where t.me is blocked or filtered, the answer is often a 200 page of someone else's."""
    if not html.strip():
        what = "an empty page"
    else:
        title = LexborHTMLParser(html).css_first("title")
        name = _one_line(title.text()) if title is not None else ""
        what = f'a page that is not from Telegram ("{truncate(name, 80)}")' if name else (
            "a page that is not from Telegram")
    return NotTelegramPageError(
        f"{base}/s/{channel} returned {what}: a network block, captive portal, proxy or bot "
        "check is answering instead of Telegram; it is tried again on the next poll",
        channel=channel,
    )


def _layout_error(channel: str, base: str) -> LayoutChangedError:
    return LayoutChangedError(
        f"{base}/s/{channel} returned a page with no recognisable posts; the Telegram page "
        "layout may have changed, so this channel cannot be read until feedwatch is updated",
        channel=channel,
    )


def _channel_title(tree: LexborHTMLParser) -> str | None:
    title = ""
    for selector in (".tgme_channel_info_header_title", ".tgme_header_title"):
        node = tree.css_first(selector)
        title = _one_line(node.text()) if node is not None else ""
        if title:
            break
    if not title:
        meta = tree.css_first('meta[property="og:title"]')
        title = _one_line(meta.attributes.get("content") or "") if meta is not None else ""
    return title or None


def _before(tree: LexborHTMLParser) -> int | None:
    """The id for the next older page: the "load more" link, else ``<link rel="prev">``.

    A page read with ``?before=`` also has a "newer" link (``data-after``); it is not this one.
    """
    for node in tree.css("a.tme_messages_more"):
        value = (node.attributes.get("data-before") or "").strip()
        if not value and node.attributes.get("data-after") is None:
            value = _query_before(node.attributes.get("href"))
        if value.isdigit():
            return int(value)
    for node in tree.css("link[rel=prev]"):
        value = _query_before(node.attributes.get("href"))
        if value.isdigit():
            return int(value)
    return None


def _query_before(href: str | None) -> str:
    query = urlsplit(_fix_amp(href or "")).query
    return ((parse_qs(query).get("before") or [""])[0]).strip()


def _is_service(widget: LexborNode) -> bool:
    classes = (widget.attributes.get("class") or "").split()
    return "service_message" in classes or "service" in classes


# Class → role of the parts of a message widget the parser reads. One combined query per post
# finds them all (a page has ~20 posts, but a 200-post page must stay cheap too).
_ROLES: dict[str, str] = {
    "tgme_widget_message_text": "text",
    "tgme_widget_message_forwarded_from_name": "forwarded",
    "tgme_widget_message_forwarded_from": "forwarded_box",
    "tgme_widget_message_from_author": "author",
    "tgme_widget_message_views": "views",
    "tgme_widget_message_meta": "meta",
    "tgme_widget_message_date": "date",
    "tgme_widget_message_poll_question": "poll_question",
    "tgme_widget_message_document_title": "document_title",
    "tgme_widget_message_venue_title": "venue_title",
    "tgme_widget_message_contact_name": "contact_name",
    "tgme_widget_message_contact_phone": "contact_phone",
    # media: one marker per node, except those in _ONCE (one per post)
    "tgme_widget_message_photo_wrap": "photo",
    "tgme_widget_message_video_player": "video",
    "tgme_widget_message_roundvideo_player": "round_video",
    "tgme_widget_message_document": "document",
    "tgme_widget_message_voice_player": "voice",
    "tgme_widget_message_voice": "voice",
    "tgme_widget_message_audio_player": "audio",
    "tgme_widget_message_audio": "audio",
    "tgme_widget_message_poll": "poll",
    "tgme_widget_message_sticker_wrap": "sticker",
    "tgme_widget_message_sticker": "sticker",
    "tgme_widget_message_tgsticker": "sticker",
    "tgme_widget_message_videosticker": "sticker",
    "tgme_widget_message_location_wrap": "location",
    "tgme_widget_message_location": "location",
    "tgme_widget_message_venue_wrap": "location",
    "tgme_widget_message_contact_wrap": "contact",
    "message_media_not_supported": "unsupported",
}
_PARTS_SELECTOR = ", ".join(f".{cls}" for cls in _ROLES)
_MEDIA = ("photo", "video", "round_video", "document", "voice", "audio", "poll", "sticker",
          "location", "contact", "unsupported")  # fmt: skip
_ONCE = frozenset({"poll", "sticker", "location", "voice", "audio", "contact", "unsupported"})


def _parts(widget: LexborNode) -> dict[str, list[LexborNode]]:
    """The widget's known parts by role, in document order."""
    found: dict[str, list[LexborNode]] = {}
    for node in widget.css(_PARTS_SELECTOR):
        for cls in (node.attributes.get("class") or "").split():
            role = _ROLES.get(cls)
            if role is not None:
                found.setdefault(role, []).append(node)
                break
    return found


# A public channel's username as post ids carry it (letters, digits, "_"; 5-32 today).
_CHANNEL_NAME = re.compile(r"[A-Za-z0-9_]{1,64}")


def _parse_post(widget: LexborNode, data_post: str, base: str) -> TelegramPost | None:
    """One message widget → post; None when its ``data-post`` carries no numeric id."""
    chan, _, num = data_post.rpartition("/")
    if not _CHANNEL_NAME.fullmatch(chan) or not num.isdigit():
        return None
    post_id = int(num)

    reply_to = None
    while (reply := widget.css_first(".tgme_widget_message_reply")) is not None:
        href = reply.attributes.get("href")
        if reply_to is None and href:
            reply_to = safe_link(_permalink(href, base))
        reply.decompose()  # nothing inside the quote belongs to this post
    # A link preview renders a link of the text; its parts (thumbnails, a quoted post) are not
    # this post's media. It is kept aside as the content of a post that is only a link.
    preview = None
    while (node := widget.css_first(".tgme_widget_message_link_preview")) is not None:
        if preview is None:
            preview = _link_preview(node)
        node.decompose()
    parts = _parts(widget)

    text_nodes = parts.get("text", [])
    # The bubble's own text is its direct child (several for a group of documents, a caption
    # each); fall back to the first one for odd layouts.
    own = [n for n in text_nodes if _is_bubble(n.parent)] or text_nodes[:1]
    text = clean_text("\n\n".join(_node_text(n) for n in own))
    if not text.strip(_INVISIBLE + " \n"):
        text = ""  # a caption of white space and zero-width characters says nothing

    media, media_line, media_title = _media(widget, parts)
    if not media and not text and preview is not None:
        media, media_line, media_title = ("link",), preview[0], preview[1]
    title = derive_title(text)
    if not text:
        text = media_line
        title = media_title or media_line

    forwarded_from, forwarded_url = _forwarded(parts, base)

    author_node, views_node = _first(parts, "author"), _first(parts, "views")
    author = _one_line(author_node.text()) if author_node is not None else ""
    views = parse_views(views_node.text()) if views_node is not None else None
    meta = _first(parts, "meta")
    edited = meta is not None and (
        _EDITED.search(meta.text(deep=False)) is not None
        or meta.css_first("[class*='edited']") is not None
    )

    entry = Entry(
        key=data_post,
        title=title,
        text=text,
        url=f"{base}/{chan}/{post_id}",
        published=_published(_first(parts, "date") or meta),
        author=author or None,
        views=views,
        forwarded_from=forwarded_from,
        forwarded_url=forwarded_url,
        reply_to=reply_to,
        media=media,
        edited=edited,
    )
    return TelegramPost(post_id, entry)


_FORWARDED_PREFIX = re.compile(r"^\s*forwarded\s+from\s*:?\s*", re.IGNORECASE)


def _forwarded(parts: dict[str, list[LexborNode]], base: str) -> tuple[str | None, str | None]:
    """Origin name and origin post permalink of a forwarded post.

    The name is a link to the origin post (a channel), a link to a profile (a person with a
    public username: no post, so no permalink) or a bare span (a person hiding their account).
    """
    name_node = _first(parts, "forwarded")
    box = _first(parts, "forwarded_box")
    if name_node is not None:
        name = _one_line(name_node.text())
        link = name_node if name_node.tag == "a" else None
    elif box is not None:  # an unknown inner layout: the box's words minus "Forwarded from"
        name = _FORWARDED_PREFIX.sub("", _one_line(box.text()), count=1)
        link = box.css_first("a[href]")
    else:
        return None, None
    if link is None and box is not None and name_node is not None:
        link = next((a for a in box.css("a[href]") if _one_line(a.text()) == name), None)
    href = (link.attributes.get("href") or "").strip() if link is not None else ""
    url = safe_link(_permalink(href, base)) if href else None
    if url is not None and not _is_post_link(url):
        url = None  # a profile or channel link is no exact-duplicate key
    return name or None, canonical_url(url) if url else None


def _is_post_link(url: str) -> bool:
    segments = [p for p in urlsplit(url).path.split("/") if p]
    return len(segments) == 2 and segments[1].isdigit()


def _link_preview(node: LexborNode) -> tuple[str, str]:
    """A link preview as the marker line of a link-only post, and a title hint."""
    words = {}
    for cls in ("link_preview_site_name", "link_preview_title", "link_preview_description"):
        part = node.css_first(f".{cls}")
        words[cls] = _one_line(part.text()) if part is not None else ""
    href = _fix_amp((node.attributes.get("href") or "").strip())
    url = href if href.lower().startswith(("http://", "https://")) else ""
    site, headline, about = (words["link_preview_site_name"], words["link_preview_title"],
                             words["link_preview_description"])  # fmt: skip
    hint = headline or about or site or url
    line = "[link]"
    if hint:
        line += f" {hint}"
    if site and site != hint:
        line += f" — {site}"
    if url and url != hint:
        line += f" ({url})"
    if about and about != hint:
        line += f"\n{about}"
    return clean_text(line), truncate(hint, 120) if hint else ""


def _first(parts: dict[str, list[LexborNode]], role: str) -> LexborNode | None:
    nodes = parts.get(role)
    return nodes[0] if nodes else None


def _is_bubble(node: LexborNode | None) -> bool:
    classes = (node.attributes.get("class") or "") if node is not None else ""
    return "tgme_widget_message_bubble" in classes.split()


def _published(node: LexborNode | None) -> datetime | None:
    """The post time from ``time[datetime]`` in the date link; naive times are taken as UTC."""
    time = node.css_first("time[datetime]") if node is not None else None
    if time is None:
        return None
    raw = (time.attributes.get("datetime") or "").strip()
    try:
        when = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


# The "edited" mark beside the time; English on t.me, but a localized page says it its own way.
_EDITED = re.compile(
    r"edited|изменено|змінено|bearbeitet|modifié|editado|modificato|düzenlendi|bewerkt"
    r"|edytowano|upraveno|redigerad|redigeret|muokattu|編集済|已编辑|編輯|편집됨|ویرایش|معدل|נערך",
    re.IGNORECASE,
)

_VIEW_SCALE = {"": 1, "K": 1_000, "M": 1_000_000, "B": 1_000_000_000}
_VIEWS = re.compile(r"(\d+(?:[.,]\d+)?)\s*([KMB]?)", re.IGNORECASE)


def parse_views(raw: str) -> int | None:
    """Telegram's rounded view counter ("523", "79.8K", "1.2M") as an int; None if unreadable."""
    s = raw.strip().replace("\u00a0", "").replace(" ", "")
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+", s):  # "1,234" as thousands, not a decimal
        s = s.replace(",", "")
    m = _VIEWS.fullmatch(s)
    if not m:
        return None
    try:
        number = Decimal(m.group(1).replace(",", "."))
    except InvalidOperation:
        return None
    return int(number * _VIEW_SCALE[m.group(2).upper()])


def _media(
    widget: LexborNode, parts: dict[str, list[LexborNode]]
) -> tuple[tuple[str, ...], str, str]:
    """Media markers of a post, the marker line for a post without text, and a title hint.

    An album (``.tgme_widget_message_grouped_wrap``) is one post with one marker per item,
    e.g. ("photo", "photo", "video"); its marker line reads "[photo ×2, video]".
    """
    markers: list[str] = []
    for marker in _MEDIA:
        found = len(parts.get(marker, ()))
        if found and marker != "unsupported":
            markers.extend([marker] * (1 if marker in _ONCE else found))
    if not markers and widget.css_first("video") is not None:
        markers.append("video")
    # The "not supported" notice also sits, hidden, inside video players ("Media is too big")
    # and beside stickers and round videos as their fallback: only alone is it the content.
    if not markers and parts.get("unsupported"):
        markers.append("unsupported")
    if not markers:
        return (), "", ""

    counts = Counter(markers)
    shown = [m if n == 1 else f"{m} ×{n}" for m, n in counts.items()]
    line = f"[{', '.join(p.replace('_', ' ') for p in shown)}]"
    hint = ""
    for marker, role in (("poll", "poll_question"), ("document", "document_title"),
                         ("location", "venue_title"), ("contact", "contact_name")):  # fmt: skip
        if marker in counts and (node := _first(parts, role)) is not None:
            hint = _one_line(node.text())
            break
    if hint:
        line = f"{line} {hint}"
    if "contact" in counts and (phone := _first(parts, "contact_phone")) is not None:
        line = f"{line} {_one_line(phone.text())}"
    return tuple(markers), line, truncate(hint, 120) if hint else ""


# ---------------------------------------------------------------------------------------------
# Message text

_SKIP_TAGS = frozenset({"script", "style", "template", "noscript", "svg"})
_BLOCK_TAGS = frozenset({"div", "p", "blockquote", "pre", "ul", "ol", "li", "h1", "h2", "h3"})
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"


def _node_text(root: LexborNode) -> str:
    """Text of a message body: ``<br>`` → newline, emoji kept, links as "text (URL)".

    Source newlines inside text nodes are plain HTML whitespace (a space); only ``<br>`` and
    block elements break lines, except inside ``<pre>``. Iterative, so deep nesting is harmless.
    """
    out: list[str] = []
    stack: list[tuple[Iterator[LexborNode], str, bool]] = [
        (root.iter(include_text=True), "", False)
    ]
    while stack:
        children, suffix, in_pre = stack[-1]
        node = next(children, None)
        if node is None:
            stack.pop()
            out.append(suffix)
            continue
        if node.is_text_node:
            chunk = node.text_content or ""
            out.append(chunk if in_pre else chunk.replace("\n", " "))
            continue
        tag = node.tag or ""
        if tag == "br":
            out.append("\n")
        elif tag == "img":
            if "emoji" in (node.attributes.get("class") or ""):
                out.append(node.attributes.get("alt") or "")
        elif tag == "a":
            out.append(_link_text(node))
        elif tag in _SKIP_TAGS or not node.is_element_node:
            continue
        elif tag in _BLOCK_TAGS:
            out.append("\n")
            stack.append((node.iter(include_text=True), "\n", in_pre or tag == "pre"))
        else:
            stack.append((node.iter(include_text=True), "", in_pre))
    return "".join(out)


def _link_text(node: LexborNode) -> str:
    """A link as text: its URL when the text is (a shortening of) the URL, else "text (URL)".

    Mentions, hashtags and non-web links keep only their text; a link with invisible text
    (the "hidden preview" trick) disappears.
    """
    text = " ".join(_node_text(node).split())
    href = _fix_amp((node.attributes.get("href") or "").strip())
    if not text.strip(_INVISIBLE):
        return ""
    if not href.lower().startswith(("http://", "https://")) or text.startswith(("@", "#", "/")):
        return text
    if _same_url(text, href):
        return href
    return f"{text} ({href})"


def _fix_amp(url: str) -> str:
    """Undo the stray ``&amp;`` that some pages leave in URLs where ``&`` is meant."""
    while "&amp;" in url:
        url = url.replace("&amp;", "&")
    return url


def _url_core(url: str) -> str:
    core = url.strip().lower()
    for prefix in ("https://", "http://"):
        core = core.removeprefix(prefix)
    return core.removeprefix("www.").rstrip("/")


def _same_url(text: str, href: str) -> bool:
    """Whether a link's text just shows its URL (maybe without scheme, or cut with "…")."""
    shown, target = _url_core(_fix_amp(text)), _url_core(href)
    if shown == target:
        return True
    for ellipsis in ("…", "..."):
        if shown.endswith(ellipsis):
            stem = shown.removesuffix(ellipsis)
            return len(stem) >= 8 and target.startswith(stem)
    return False


def _permalink(href: str, base: str) -> str | None:
    """An absolute post permalink from a page link: ``/s/`` and ``?single`` dropped; None
    for a link that is no URL ("https://[t.me/…": an invalid IPv6 host)."""
    try:
        url = urljoin(base + "/", _fix_amp(href.strip()))
        parts = urlsplit(url)
    except ValueError:
        return None
    segments = [p for p in parts.path.split("/") if p]
    if segments[:1] == ["s"]:
        segments = segments[1:]
    if len(segments) == 2 and segments[1].isdigit():
        return urlunsplit((parts.scheme, parts.netloc, "/" + "/".join(segments), "", ""))
    return url


def _one_line(text: str) -> str:
    return " ".join(clean_text(text).split())
