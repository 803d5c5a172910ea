"""Turning untrusted network text into plain, inert display text.

Everything a source sends passes through here before it is stored: HTML is reduced to text,
terminal escape sequences and control characters are removed, whitespace is tidied. Markup
escaping for Rich/Textual happens at render time (the views build ``Text`` objects, never
markup strings), so stored text stays exactly what the source said.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit, uses_relative

from selectolax.lexbor import LexborHTMLParser as HTMLParser

# CSI, OSC (terminated by BEL or ST), DCS/SOS/PM/APC strings, and lone two-byte escapes.
_ANSI = re.compile(
    r"""
    \x1b\[[0-?]*[ -/]*[@-~]            # CSI ... final byte
  | \x9b[0-?]*[ -/]*[@-~]              # 8-bit CSI
  | \x1b\][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?   # OSC ... BEL / ST
  | \x9d[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?
  | \x1b[P_^X][^\x1b\x9c]*(?:\x1b\\|\x9c)?       # DCS, APC, PM, SOS
  | \x1b[@-Z\\-_]                      # other Fe escapes
  | \x1b.?                             # anything else after ESC
    """,
    re.VERBOSE,
)
# C0 and C1 controls except tab and newline; also bidi overrides that can disguise text.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# A run of spaces becomes one plain space. A lone plain space is not matched: replacing each
# word gap by itself cost more than the rest of clean_text.
_SPACE = " \t\u00a0\u2000-\u200a\u202f\u205f\u3000"
_SPACES = re.compile(rf"[{_SPACE}]{{2,}}|[{_SPACE[1:]}]")
_BLANK_LINES = re.compile(r"\n{3,}")

_BLOCK_TAGS = (
    "p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6",
    "blockquote", "pre", "tr", "table", "section", "article", "header", "footer", "hr",
)  # fmt: skip
_BLOCK_SELECTOR = ", ".join(("br", *_BLOCK_TAGS))
# An element whose content is not text can only come from its start tag written out.
_DROPPED_TAG = re.compile(r"<(?:script|style|noscript|template|iframe|object)", re.IGNORECASE)


def strip_controls(text: str) -> str:
    """Remove terminal escape sequences and control characters; keep tabs and newlines."""
    if _CONTROLS.search(text) is None:
        return text  # every escape sequence, and "\r", starts with such a character
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROLS.sub("", _ANSI.sub("", text))


def clean_text(text: str | None) -> str:
    """Untrusted plain text → inert text with tidy whitespace (line breaks kept)."""
    if not text:
        return ""
    text = strip_controls(unicodedata.normalize("NFC", text))
    # ASCII text needs the (slow, character-class) substitution only for a run or a tab
    if "  " in text or "\t" in text or not text.isascii():
        text = _SPACES.sub(" ", text)
    # (one pass over the whole text: a run of _SPACES never holds a line break)
    text = "\n".join([line.strip() for line in text.split("\n")])
    return (_BLANK_LINES.sub("\n\n", text) if "\n\n\n" in text else text).strip()


def one_line(text: str) -> str:
    return " ".join(clean_text(text).split())


def html_to_text(html: str | None) -> str:
    """Reduce an HTML fragment to plain text, keeping paragraph and line breaks."""
    if not html:
        return ""
    if "<" not in html and "&" not in html:
        return clean_text(html)
    if len(html) > MAX_TAGS * 3 and html.count("<") > MAX_TAGS:
        html = html[: _nth_index(html, "<", MAX_TAGS + 1)]
    tree = HTMLParser(html)
    if _DROPPED_TAG.search(html):  # (the query walks the whole tree: most HTML has none)
        for node in tree.css("script, style, noscript, template, iframe, object"):
            node.decompose()
    root = tree.body or tree.root
    if root is None:
        return ""
    for node in root.css(_BLOCK_SELECTOR):  # one pass over the tree, not one per tag
        if node.tag == "br":
            node.replace_with("\n")
        else:
            node.insert_before("\n")
            node.insert_after("\n")
    return clean_text(root.text(separator="", deep=True))


# Tags read of one fragment: the HTML5 parser's cost grows with the square of the nesting
# depth (80,000 unclosed <div>s took 15 s), and no feed text needs more.
MAX_TAGS = 8000


def _nth_index(text: str, sub: str, n: int) -> int:
    at = -1
    for _ in range(n):
        at = text.find(sub, at + 1)
    return at


def first_line(text: str, limit: int = 120) -> str:
    for line in text.split("\n"):
        line = line.strip()
        if line:
            return truncate(line, limit)
    return ""


def truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit * 0.5:
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + "…"


_TRACKING_PREFIXES = ("utm_", "mc_", "pk_", "hsa_", "_hs")
_TRACKING_PARAMS = {
    "fbclid", "gclid", "dclid", "msclkid", "yclid", "igshid", "mkt_tok", "ocid",
    "cmpid", "ncid", "ito", "wt.mc_id", "s_cid", "ref_src", "sr_share", "at_medium",
    "at_campaign", "guccounter", "_ga", "si",
}  # fmt: skip


def canonical_url(url: str | None) -> str | None:
    """A URL normalised for identity: tracking params, fragment, default port and
    trailing slash dropped, scheme and host lower-cased. Non-http(s) URLs are returned as is."""
    if not url:
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        return url
    host = (parts.hostname or "").lower().rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host if port in (None, 80, 443) else f"{host}:{port}"
    path = parts.path or "/"
    if len(path) > 1:
        path = path.rstrip("/")
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k.lower() not in _TRACKING_PARAMS and not k.lower().startswith(_TRACKING_PREFIXES)
    ]
    query.sort()
    # The scheme is folded too: http and https copies of one article are the same article.
    return urlunsplit(("https", netloc, path, urlencode(query), ""))


_LINK_FORBIDDEN = re.compile(r"[\x00-\x20\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def is_safe_link(url: str | None) -> bool:
    """Only http(s) links with a host, free of control characters and spaces, may ever be
    opened (javascript:, file:, data: and escape-laden links never are)."""
    if not url or not isinstance(url, str):
        return False
    url = url.strip()
    if _LINK_FORBIDDEN.search(url):
        return False
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(host)


def safe_link(url: str | None) -> str | None:
    """``url`` stripped if :func:`is_safe_link`, else None: what a parser may store."""
    return url.strip() if url and is_safe_link(url) else None


# Two kinds of URL that urljoin gives back unchanged whatever a (valid) base, so a feed's
# links and ids can skip its two urlparse round trips (a tenth of parsing a plain feed):
# an absolute http(s) URL of printable ASCII with a plain host, without ";" (path
# parameters) or an empty "?" or "#" (which urlunsplit drops); and an opaque id ("tag:",
# "urn:") of a scheme that is never resolved against a base.
_PLAIN_HTTP = re.compile(r"https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:[/?#][!-:<-~]*)?")
_OPAQUE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):(?!//)[!-~]*")
_RELATIVE_SCHEMES = frozenset(uses_relative)


def _plain_http(url: str) -> bool:
    if _PLAIN_HTTP.fullmatch(url) is None:
        return False
    rest, hash_, fragment = url.partition("#")
    if hash_ and not fragment:
        return False
    _, mark, query = rest.partition("?")
    return not (mark and not query)


@lru_cache(maxsize=64)
def _valid_base(base: str) -> bool:
    try:
        urlsplit(base)
    except ValueError:
        return False
    return True


def joins_to_itself(base: str, url: str) -> bool:
    """True when ``urljoin(base, url) == url`` is known without joining (False: join)."""
    if not _valid_base(base):
        return False
    if _plain_http(url):
        return True
    m = _OPAQUE.fullmatch(url)
    return m is not None and m.group(1).lower() not in _RELATIVE_SCHEMES


def absolute_link(base: str, link: str) -> str | None:
    """``link`` joined to ``base`` if it is a safe link (:func:`safe_link`), else None."""
    if _plain_http(link) and _valid_base(base):
        return link  # already absolute, and safe: ASCII without spaces or controls
    if base:
        try:
            link = urljoin(base, link)
        except ValueError:
            return None
    return safe_link(link)


def text_fingerprint(*parts: str) -> str:
    """Stable hash of normalized text, the identity of last resort."""
    norm = " ".join(" ".join(p.casefold().split()) for p in parts if p)
    return hashlib.sha1(norm.encode("utf-8")).hexdigest()


_CYRILLIC = re.compile("[\u0400-\u04ff]")
_UKRAINIAN = re.compile("[іїєґІЇЄҐ]")
_RUSSIAN = re.compile("[ыэъЫЭЪё]")


def guess_lang(text: str) -> str | None:
    """A script-level guess for sources that don't say (Telegram): "uk", "ru" or None.

    Only Cyrillic is guessed, from letters unique to each language; Latin text could be any
    of dozens of languages, so it is left unknown rather than mislabelled.
    """
    sample = text[:2000]
    cyrillic = len(_CYRILLIC.findall(sample))
    if cyrillic < 8 or cyrillic < len(sample) * 0.3:
        return None
    uk, ru = len(_UKRAINIAN.findall(sample)), len(_RUSSIAN.findall(sample))
    if uk > ru:
        return "uk"
    return "ru" if ru or not uk else None
