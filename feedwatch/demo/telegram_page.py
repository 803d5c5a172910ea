"""Realistic ``t.me/s/<channel>`` preview pages, rendered from simple post records.

The demo server serves these on loopback so ``feedwatch demo`` exercises the real Telegram
parser offline; tests use them to check that parser and renderer round-trip. The markup mirrors
the live pages (class names, nesting, emoji images, rounded view counters), not their styling.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = [
    "MEDIA_KINDS",
    "DemoPost",
    "format_views",
    "render_channel_page",
    "render_no_preview_page",
]

#: Values accepted for :attr:`DemoPost.media`; "album" is three photos, "poll" uses the post's
#: text as the poll question (a poll has no separate text).
MEDIA_KINDS = frozenset(
    {"photo", "album", "video", "round_video", "document", "voice", "sticker", "location", "poll"}
)


@dataclass(frozen=True, slots=True)
class DemoPost:
    """One post to render. ``text`` is plain text; ``published`` should be timezone-aware."""

    id: int
    text: str
    published: datetime
    views: int = 0
    edited: bool = False
    forwarded_from: tuple[str, str] | None = None  # (name, origin permalink); "" → hidden
    media: str | None = None  # one of MEDIA_KINDS
    reply_to: int | None = None
    author: str | None = None  # signature of a signed post


def render_channel_page(
    channel: str,
    title: str,
    posts: Sequence[DemoPost],
    *,
    before: int | None = None,
    base_url: str = "https://t.me",
    description: str = "",
) -> str:
    """The preview page of ``channel`` listing ``posts`` (oldest → newest).

    ``before`` adds the "older posts" link (``/s/<channel>?before=<id>``); ``base_url`` is the
    origin that permalinks point at (the demo server's own address in the demo).
    """
    base = base_url.rstrip("/")
    chan = _attr(channel)
    by_id = {p.id: p for p in posts}
    more = ""
    if before is not None:
        more = (
            '<div class="tgme_widget_message_centered js-messages_more_wrap">'
            f'<a href="/s/{chan}?before={before}" class="tme_messages_more js-messages_more" '
            f'data-before="{before}"></a></div>\n'
        )
    messages = "\n".join(_message(channel, title, p, by_id, base) for p in posts)
    desc = _rich(description)
    head_title = html.escape(title)
    rich_title = _rich(title)
    photo = f"https://cdn4.cdn-telegram.org/file/{_token(channel)}.jpg"
    return f"""<!DOCTYPE html>
<html>
  <head>
    <meta charset="utf-8">
    <title>{head_title} – Telegram</title>
    <meta name="viewport" content="width=device-width, initial-scale=1.0, minimum-scale=1.0">
    <meta property="og:title" content="{_attr(title)}">
    <meta property="og:image" content="{photo}">
    <meta property="og:site_name" content="Telegram">
    <meta property="og:description" content="{_attr(description)}">
    <meta property="twitter:title" content="{_attr(title)}">
    <meta name="twitter:card" content="summary">
    <link rel="canonical" href="{base}/s/{chan}">
    <link href="//telegram.org/css/widget-frame.css?71" rel="stylesheet">
    <link href="//telegram.org/css/telegram-web.css?40" rel="stylesheet">
  </head>
  <body class="widget_frame_base tgme_webpreview emoji_image no_transitions">
    <header class="tgme_header search_collapsed">
      <div class="tgme_header_search">
        <form class="tgme_header_search_form" action="/s/{chan}" method="get">
          <input class="tgme_header_search_form_input js-header_search" placeholder="Search" \
name="q" autocomplete="off">
        </form>
      </div>
      <div class="tgme_header_info">
        <a class="tgme_header_link" href="{base}/{chan}">
          <div class="tgme_header_title"><span dir="auto">{rich_title}</span></div>
        </a>
      </div>
    </header>
    <main class="tgme_main">
      <div class="tgme_container">
        <section class="tgme_right_column">
          <div class="tgme_channel_info">
            <div class="tgme_channel_info_header">
              <i class="tgme_page_photo_image bgcolor{len(channel) % 7}" \
data-content-len="{len(channel)}"><img src="{photo}"></i>
              <div class="tgme_channel_info_header_title"><span dir="auto">{rich_title}</span>\
</div>
              <div class="tgme_channel_info_header_username"><a href="{base}/{chan}">@{chan}</a>\
</div>
            </div>
            <div class="tgme_channel_info_counters">
              <div class="tgme_channel_info_counter"><span class="counter_value">48.2K</span> \
<span class="counter_type">subscribers</span></div>
            </div>
            <div class="tgme_channel_info_description">{desc}</div>
          </div>
        </section>
        <section class="tgme_channel_history js-message_history">
{more}{messages}
        </section>
      </div>
    </main>
    <script src="//telegram.org/js/widget-frame.js?65"></script>
    <script src="//telegram.org/js/telegram-web.js?14"></script>
    <script>TWidgetPost.init();</script>
  </body>
</html>
"""


def render_no_preview_page(channel: str) -> str:
    """What ``t.me/<channel>`` shows (and ``/s/<channel>`` redirects to) without a preview."""
    chan = _attr(channel)
    return f"""<!DOCTYPE html>
<html>
  <head>
    <meta charset="utf-8">
    <title>Telegram: Contact @{chan}</title>
    <meta property="og:title" content="{chan}">
    <meta property="og:image" content="https://telegram.org/img/t_logo.png">
    <meta property="og:site_name" content="Telegram">
    <meta property="og:description" content="">
    <meta property="al:android:url" content="tg://resolve?domain={chan}">
    <link href="//telegram.org/css/font-roboto.css?1" rel="stylesheet" type="text/css">
  </head>
  <body>
    <div class="tgme_page_wrap">
      <div class="tgme_head_wrap">
        <div class="tgme_head">
          <a href="//telegram.org/" class="tgme_head_brand"><i class="tgme_logo"></i></a>
          <a class="tgme_head_dl_button" href="//telegram.org/dl?tme={_token(channel)}">Download</a>
        </div>
      </div>
      <div class="tgme_body_wrap">
        <div class="tgme_page">
          <div class="tgme_page_photo">
            <a href="tg://resolve?domain={chan}"><img class="tgme_page_photo_image" \
src="https://cdn4.cdn-telegram.org/file/{_token(channel)}.jpg"></a>
          </div>
          <div class="tgme_page_title"><span dir="auto">{chan}</span></div>
          <div class="tgme_page_extra">@{chan}</div>
          <div class="tgme_page_action">
            <a class="tgme_action_button_new shine" href="tg://resolve?domain={chan}">\
View in Telegram</a>
          </div>
          <div class="tgme_page_additional">
            If you have <strong>Telegram</strong>, you can contact <a class="tgme_username_link" \
href="tg://resolve?domain={chan}">@{chan}</a> right away.
          </div>
        </div>
      </div>
    </div>
    <div id="tgme_frame_cont"></div>
    <script src="//telegram.org/js/tgme-page.js?1"></script>
  </body>
</html>
"""


def format_views(views: int) -> str:
    """Telegram's rounded counter: 523 → "523", 79_861 → "79.8K", 1_234_567 → "1.2M"."""
    for scale, suffix in ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "K")):
        if views >= scale:
            tenths = views * 10 // scale  # truncated, as Telegram does
            whole, frac = divmod(tenths, 10)
            return f"{whole}{suffix}" if not frac or whole >= 100 else f"{whole}.{frac}{suffix}"
    return str(max(views, 0))


# ---------------------------------------------------------------------------------------------


def _message(
    channel: str, title: str, post: DemoPost, by_id: Mapping[int, DemoPost], base: str
) -> str:
    """One ``tgme_widget_message_wrap`` block."""
    chan = _attr(channel)
    link = f"{base}/{chan}/{post.id}"
    parts: list[str] = [
        '<i class="tgme_widget_message_bubble_tail"><svg class="bubble_icon" width="11px" '
        'height="20px" viewBox="0 0 11 20"><g fill="none"><path class="background" '
        'fill="#ffffff" d="M11,0 L11,20 L0,20 C2.7,20 5.4,18.9 7.5,17 C9.6,15.1 11,12 11,9 '
        'L11,0 Z"></path></g></svg></i>',
        '<div class="tgme_widget_message_author accent_color"><a class="tgme_widget_message_'
        f'owner_name" href="{base}/{chan}"><span dir="auto">{_rich(title)}</span></a></div>',
    ]
    if post.forwarded_from is not None:
        name, origin = post.forwarded_from
        inner = f'<span dir="auto">{_rich(name)}</span>'
        if origin:
            who = (
                f'<a class="tgme_widget_message_forwarded_from_name" href="{_attr(origin)}">'
                f"{inner}</a>"
            )
        else:
            who = f'<span class="tgme_widget_message_forwarded_from_name">{inner}</span>'
        parts.append(
            f'<div class="tgme_widget_message_forwarded_from accent_color">Forwarded from {who}'
            "</div>"
        )
    if post.reply_to is not None:
        quoted = by_id.get(post.reply_to)
        quote = quoted.text.strip().split("\n", 1)[0][:80] if quoted else "Message"
        parts.append(
            f'<a class="tgme_widget_message_reply" href="{base}/{chan}/{post.reply_to}">'
            '<div class="tgme_widget_message_author accent_color"><span class="tgme_widget_'
            f'message_author_name" dir="auto">{_rich(title)}</span></div>'
            '<div class="tgme_widget_message_text js-message_reply_text" dir="auto">'
            f"{_rich(quote)}</div></a>"
        )
    if post.media == "poll":
        parts.append(_poll(post.text))
    else:
        if post.media:
            parts.append(_media(post.media, link, post.id))
        if post.text:
            parts.append(
                '<div class="tgme_widget_message_text js-message_text" dir="auto">'
                f"{_rich(post.text)}</div>"
            )
    parts.append(_footer(post, link))
    peer = _token(channel)
    return (
        '<div class="tgme_widget_message_wrap js-widget_message_wrap">'
        '<div class="tgme_widget_message text_not_supported_wrap js-widget_message" '
        f'data-post="{chan}/{post.id}" data-view="{_token(f"{channel}/{post.id}", 24)}" '
        f'data-peer="c{peer}" data-peer-hash="{peer[:16]}">'
        f'<div class="tgme_widget_message_user"><a href="{base}/{chan}">'
        f'<i class="tgme_widget_message_user_photo bgcolor{len(channel) % 7}" '
        f'data-content-len="{len(channel)}"><img src="https://cdn4.cdn-telegram.org/file/'
        f'{peer}.jpg"></i></a></div>'
        '<div class="tgme_widget_message_bubble">' + "".join(parts) + "</div></div></div>"
    )


def _footer(post: DemoPost, link: str) -> str:
    when = post.published if post.published.tzinfo else post.published.replace(tzinfo=UTC)
    when = when.astimezone(UTC)
    signed = (
        f'<span class="tgme_widget_message_from_author" dir="auto">{html.escape(post.author)}'
        "</span>"
        if post.author
        else ""
    )
    edited = "edited " if post.edited else ""
    return (
        '<div class="tgme_widget_message_footer compact js-message_footer">'
        '<div class="tgme_widget_message_info short js-message_info">'
        f'{signed}<span class="tgme_widget_message_views">{format_views(post.views)}</span>'
        '<span class="copyonly"> views</span>'
        f'<span class="tgme_widget_message_meta">{edited}<a class="tgme_widget_message_date" '
        f'href="{link}"><time datetime="{when.isoformat(timespec="seconds")}" class="time">'
        f"{when:%H:%M}</time></a></span></div></div>"
    )


def _photo(link: str, token: str, extra: str = "") -> str:
    return (
        f'<a class="tgme_widget_message_photo_wrap{extra} {token[:10]}" href="{link}" '
        f"style=\"width:800px;background-image:url('https://cdn4.cdn-telegram.org/file/"
        f'{token}.jpg\')"><div class="tgme_widget_message_photo" style="padding-top:'
        '56.25%"></div></a>'
    )


def _media(kind: str, link: str, post_id: int) -> str:
    """The media block of one post; unknown kinds render as Telegram's "not supported"."""
    token = _token(link, 32)
    if kind == "photo":
        return _photo(link, token)
    if kind == "album":
        items = "".join(
            _photo(f"{link.rsplit('/', 1)[0]}/{post_id + i}?single", _token(f"{link}#{i}", 32),
                   " grouped_media_wrap blured js-message_photo")
            for i in range(3)
        )  # fmt: skip
        return (
            '<div class="tgme_widget_message_grouped_wrap js-message_grouped_wrap" '
            'data-margin-w="2" data-margin-h="2" style="width:453px;">'
            '<div class="tgme_widget_message_grouped js-message_grouped" '
            'style="padding-top:66.2%"><div class="tgme_widget_message_grouped_layer '
            f'js-message_grouped_layer">{items}</div></div></div>'
        )
    if kind == "video":
        return (
            f'<a class="tgme_widget_message_video_player js-message_video_player" href="{link}">'
            '<i class="tgme_widget_message_video_thumb" style="background-image:url(\'https://'
            f"cdn4.cdn-telegram.org/file/{token}.jpg')\"></i>"
            '<div class="tgme_widget_message_video_wrap"><video src="https://cdn4.cdn-'
            f'telegram.org/file/{token}.mp4" class="tgme_widget_message_video js-message_video" '
            'width="100%" height="100%"></video></div><div class="message_video_play"></div>'
            '<time class="message_video_duration js-message_video_duration">0:26</time></a>'
        )
    if kind == "round_video":
        return (
            f'<a class="tgme_widget_message_roundvideo_player js-message_roundvideo_player" '
            f'href="{link}"><div class="tgme_widget_message_roundvideo_wrap"><video class="'
            f'tgme_widget_message_roundvideo js-message_roundvideo" src="https://cdn4.cdn-'
            f'telegram.org/file/{token}.mp4"></video></div></a>'
        )
    if kind == "document":
        return (
            f'<a class="tgme_widget_message_document_wrap" href="{link}">'
            '<div class="tgme_widget_message_document_icon accent_bg"></div>'
            '<div class="tgme_widget_message_document"><div class="tgme_widget_message_'
            'document_title accent_color" dir="auto">statement.pdf</div><div class="tgme_'
            'widget_message_document_extra" dir="auto">412.6 KB</div></div></a>'
        )
    if kind == "voice":
        return (
            '<a class="tgme_widget_message_voice_player js-message_voice_player">'
            '<audio class="tgme_widget_message_voice js-message_voice" src="https://cdn4.'
            f'cdn-telegram.org/file/{token}.ogg" data-waveform="AAAA" data-ripple="1"></audio>'
            '<time class="tgme_widget_message_voice_duration js-message_voice_duration">0:42'
            "</time></a>"
        )
    if kind == "sticker":
        return (
            f'<div class="tgme_widget_message_sticker_wrap"><a href="{link}">'
            '<i class="tgme_widget_message_sticker js-sticker_image" data-webp="https://'
            f'cdn4.cdn-telegram.org/file/{token}.webp" style="width:256px;"></i></a></div>'
        )
    if kind == "location":
        return (
            '<a class="tgme_widget_message_location_wrap" href="https://maps.google.com/maps?'
            'q=41.0441,29.0168&amp;ll=41.0441,29.0168&amp;z=16"><div class="tgme_widget_'
            'message_location"></div><div class="tgme_widget_message_venue_title">'
            "Çırağan Palace</div></a>"
        )
    return (
        '<div class="message_media_not_supported_wrap"><div class="message_media_not_supported">'
        '<div class="message_media_not_supported_label">Please open Telegram to view this post'
        f'</div><a href="{link}" class="message_media_view_in_telegram">VIEW IN TELEGRAM</a>'
        "</div></div>"
    )


def _poll(question: str) -> str:
    options = "".join(
        '<a class="tgme_widget_message_poll_option"><div class="tgme_widget_message_poll_option'
        f'_percent">{pct}%</div><div class="tgme_widget_message_poll_option_value"><div class="'
        f'tgme_widget_message_poll_option_text" dir="auto">{label}</div></div></a>'
        for pct, label in ((41, "Yes"), (37, "No"), (22, "Too early to say"))
    )
    return (
        '<div class="tgme_widget_message_poll js-poll"><div class="tgme_widget_message_poll_'
        f'question" dir="auto">{_rich(" ".join(question.split()))}</div><div class="tgme_widget'
        f'_message_poll_type">Anonymous poll</div>{options}</div>'
    )


# ---------------------------------------------------------------------------------------------
# Text: escape, link URLs, wrap emoji in Telegram's image markup, newlines → <br/>.

_URL = re.compile(r"https?://[^\s<>\"'\x00-\x1f\x7f-\x9f]+")
_EMOJI_CHAR = (
    "\u203c\u2049\u2122\u2139\u2194-\u21aa\u231a-\u23ff\u24c2\u25aa-\u27bf\u2934\u2935"
    "\u2b05-\u2b55\u3030\u303d\u3297\u3299\U0001f000-\U0001faff"
)
_EMOJI = re.compile(
    f"[{_EMOJI_CHAR}][\ufe0f\u20e3\U0001f3fb-\U0001f3ff]*"
    f"(?:\u200d[{_EMOJI_CHAR}][\ufe0f\U0001f3fb-\U0001f3ff]*)*"
)


def _rich(text: str) -> str:
    """Plain text → Telegram message HTML (escaped, links and emoji marked up)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    return "<br/>".join(_rich_line(line) for line in text.split("\n"))


def _rich_line(line: str) -> str:
    out: list[str] = []
    pos = 0
    for m in _URL.finditer(line):
        out.append(_emoji(line[pos : m.start()]))
        url = m.group()
        out.append(f'<a href="{_attr(url)}" target="_blank" rel="noopener">{html.escape(url)}</a>')
        pos = m.end()
    out.append(_emoji(line[pos:]))
    return "".join(out)


def _emoji(text: str) -> str:
    out: list[str] = []
    pos = 0
    for m in _EMOJI.finditer(text):
        out.append(html.escape(text[pos : m.start()], quote=False))
        glyph = m.group()
        code = glyph.replace("\ufe0f", "").encode("utf-8").hex().upper()
        out.append(
            f'<i class="emoji" style="background-image:url(\'//telegram.org/img/emoji/40/'
            f"{code}.png')\"><b>{glyph}</b></i>"
        )
        pos = m.end()
    out.append(html.escape(text[pos:], quote=False))
    return "".join(out)


def _attr(value: str) -> str:
    return html.escape(value, quote=True)


def _token(seed: str, length: int = 20) -> str:
    """A stable, file-id-looking token so pages are deterministic."""
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")[:length]
