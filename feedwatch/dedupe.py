"""Near-duplicate clustering of updates: exact keys plus a time-windowed similarity index.

Pure logic, no I/O. One story arrives from many sources, reworded, truncated, marked with
emoji and sometimes in Russian or Ukrainian; :class:`ClusterIndex` folds those copies into one
cluster whose id is the id of its first (headline) update.

Two layers:

* **exact** — same canonical URL (homepages and live-blog pages ignored), same forward origin,
  or identical normalized text: join immediately, even when near-duplicate matching is off;
* **near** — an inverted index over the rarest terms of each update (postings capped, old
  updates evicted) yields a few candidates inside the time window; each is scored with
  IDF-weighted overlap (learned online) that also accepts a short post contained in a longer
  one, then penalised for hard-negative signals: conflicting quantities, opposite event states
  of the same subject ("talks began" vs "talks ended", while "the meeting ended, talks to
  start soon" is yet another event), and a quoted phrase the other report lacks.

Words are mapped through a small built-in news lexicon to language-neutral concepts (English,
Russian, Ukrainian: "talks" = "переговоры" = "переговори", "ended" = "завершились"), which
also folds synonyms within one language; other words keep a stem (same-script comparison)
and a transliterated skeleton (cross-script comparison of names: "Умеров" = "Umerov").
Updates of one source need a near copy to join each other: a channel rarely repeats itself,
and its "More:" / "Adding:" follow-ups are new facts.
"""

from __future__ import annotations

import heapq
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from itertools import islice
from typing import Any
from urllib.parse import urlsplit

import regex
from anyascii import anyascii

from feedwatch.textutil import canonical_url

__all__ = [
    "ClusterIndex",
    "Decision",
    "DedupeDoc",
    "DedupeSettings",
    "bcubed_scores",
    "cluster_records",
    "normalize",
    "pairwise_scores",
    "similarity",
]


# --------------------------------------------------------------------------- public records


@dataclass(frozen=True, slots=True)
class DedupeDoc:
    """What clustering needs to know about one update."""

    id: int
    source: str
    published: float  # unix seconds
    title: str
    text: str
    url: str | None = None
    forwarded_url: str | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """Where an added update went and why."""

    cluster: int  # id of the cluster's headline update; == doc.id for a new cluster
    joined: bool  # True when it joined an existing cluster
    score: float  # similarity to the best match (1.0 for exact copies)
    reason: str  # "new" | "exact-url" | "forward" | "exact-text" | "near"


@dataclass(frozen=True, slots=True)
class DedupeSettings:
    """Knobs of the clustering. ``threshold`` was tuned on the dev set."""

    window: float = 6 * 3600.0
    threshold: float = 0.4
    enabled: bool = True
    cross_language: bool = True  # compare Cyrillic and Latin updates through concepts/names
    margin: float | None = None  # extra retention past the window; None → one more window

    @property
    def retention(self) -> float:
        """How far behind the newest update the index keeps updates (window + margin)."""
        return self.window + (self.window if self.margin is None else self.margin)


# --------------------------------------------------------------------------- normalization

_URL = re.compile(r"(?:https?://|www\.|t\.me/)\S+", re.IGNORECASE)
_MENTION = re.compile(r"(?<!\w)@\w+")
# "via @chan", "via Reuters", "через @chan" ("через" alone is a common preposition).
_VIA = re.compile(r"\bvia\s+@?\w+|\bчерез\s+@\w+", re.IGNORECASE)
_SOURCE_LINE = re.compile(
    r"^\s*(?:source|sources|photo|video|источник|фото|видео|джерело|відео)\s*:.*$",
    re.IGNORECASE | re.MULTILINE,
)
_FOOTER_WORDS = re.compile(
    r"subscribe|follow us|join us|our channel|stay (?:informed|tuned)|"
    r"подпис|наш канал|читайте нас|підпис|приєднуйтесь",
    re.IGNORECASE,
)
_MARKER_WORDS = (
    r"breaking(?:\s+news)?|update[ds]?|more|adding|also|urgent|just\s+in|developing|flash|"
    r"exclusive|live|correction|срочно|молния|важно|ещ[её]|дополнение|подробнее|обновлено|"
    r"терміново|блискавка|важливо|ще|додаємо|доповнення|детальніше|оновлено"
)
# A marker opens a line ("⚡️ BREAKING:", "More:", "❗️Срочно —") and is followed by ":" or a dash.
_NOT_ALNUM = r"(?:[^\w\n]|_)"  # neither a letter nor a digit (nor a line break)
_MARKER = re.compile(
    rf"^{_NOT_ALNUM}*(?:(?:{_MARKER_WORDS})\s*[:—–|!-]+{_NOT_ALNUM}*)+",
    re.IGNORECASE | re.MULTILINE,
)
# Follow-up markers: a channel adding to its own earlier post ("More:", "Adding:", "Also:").
_FOLLOWUP = re.compile(
    r"^(?:\W|_)*(?:more|adding|also|update[ds]?|ещ[её]|дополнение|подробнее|обновлено|"
    r"ще|додаємо|доповнення|детальніше|оновлено)\s*[:—–-]",
    re.IGNORECASE,
)
# "(Reuters)", "(AP)", "(РИА Новости)": a parenthesised name of one to three capitalised words.
_PAREN_TAG = regex.compile(r"\(\s*\p{Lu}[\p{L}.&]*(?:\s+\p{Lu}[\p{L}.&]*){0,2}\s*\)")
# "— Reuters", "- AP" closing a line.
_DASH_TAG = regex.compile(
    r"\s[—–-]{1,2}\s*\p{Lu}[\p{L}.&]*(?:\s+\p{Lu}[\p{L}.&]*){0,2}[\s.]*$", regex.MULTILINE
)
_STRESS = re.compile("[\u0300-\u036f\u00ad\u200b-\u200d\u2060\ufe0f]")
# One scan yields every token kind: words, clock times, grouped and plain numbers, sentence
# ends and quotation marks (the last two guide feature extraction); :func:`_lex` tells them
# apart by their first character.
_TOKEN = re.compile(
    r"[^\W\d_]+(?:['’ʼ][^\W\d_]+)*"
    r"|(?<![\d.,:])\d{1,2}:\d{2}(?![\d:])"
    r"|(?<![\d.,])\d{1,3}(?:(?:,|[ \u00a0\u202f\u2009])\d{3})+(?![\d]|[.,]\d)"
    r"|\d+(?:[.,]\d+)?"
    r"|[.!?;…]+(?=\s|$)|\n"
    r"|[«»“”„\"]|(?<!\w)'|'(?!\w)"
    r"|:(?=\s)"
)
# The scan first takes a run of digits and separators as one blob ("17:00", "6 000", "1.5");
# only blobs that are not plain digits are split again by :data:`_TOKEN` (cheaper overall).
_SCAN = re.compile(
    r"[^\W\d_]+(?:['’ʼ][^\W\d_]+)*|\d(?:[\d.,:\u00a0\u202f\u2009 ]*\d)?"
    r"|[.!?;…]+(?=\s|$)|\n|[«»“”„\"]|(?<!\w)'|'(?!\w)|:(?=\s)"
)
_NUMBER_BLOB = re.compile(r"\d[.,:\u00a0\u202f\u2009 ]+\d")
_GROUPED = re.compile(r"\d{1,3}(?:(?:,|[ \u00a0\u202f\u2009])\d{3})+")
_PUNCT_KIND = {":": "c", "\n": "p", **dict.fromkeys("«»“”„\"'", "q")}
_APOSTROPHES = re.compile("['’ʼ]")
_POSSESSIVE = re.compile(r"['’ʼ]s$", re.IGNORECASE)
_MULTIPLIERS = {
    **dict.fromkeys(("thousand", "thousands", "k", "тыс", "тис"), 1000),
    **dict.fromkeys(("million", "millions", "mln", "m", "млн"), 1_000_000),
    **dict.fromkeys(("billion", "billions", "bn", "млрд"), 1_000_000_000),
}  # fmt: skip
_MULTIPLIER_STEMS = (("тысяч", 1000), ("тисяч", 1000), ("миллион", 1_000_000),
                     ("мільйон", 1_000_000), ("миллиард", 1_000_000_000),
                     ("мільярд", 1_000_000_000))  # fmt: skip


@lru_cache(maxsize=4096)
def _multiplier(word: str) -> int:
    """Factor of a number word following a number ("6 тысячам" → 1000), else 0."""
    low = word.casefold()
    factor = _MULTIPLIERS.get(low)
    if factor:
        return factor
    return next((f for stem, f in _MULTIPLIER_STEMS if low.startswith(stem)), 0)


_FOOTER_KEYS = ("subscri", "follow us", "join us", "our channel", "stay ", "подпис",
                "наш канал", "читайте нас", "підпис", "приєднуйтесь")  # fmt: skip


_FOOTER_KEYS_ASCII = tuple(k for k in _FOOTER_KEYS if k.isascii())
_SOURCE_KEYS = ("source", "photo", "video", "источник", "фото", "видео", "джерело", "відео")


def _strip_tags(text: str) -> str:
    """Remove URLs, mentions, markers, source tags and subscribe footers from raw text."""
    # Each pattern runs only when a cheap test on the lower-cased text says it could match
    # (case-insensitive searches are slow): this is the hot path.
    low = text.lower()
    if "/" in text or "www." in low:
        text = _URL.sub(" ", text)
    if "@" in text or "via " in low:
        text = _MENTION.sub(" ", _VIA.sub(" ", text))
    if ":" in text and any(k in low for k in _SOURCE_KEYS):
        text = _SOURCE_LINE.sub(" ", text)
    keys = _FOOTER_KEYS if not low.isascii() else _FOOTER_KEYS_ASCII
    if any(k in low for k in keys) and _FOOTER_WORDS.search(text):
        if "\n" in text:
            lines = text.split("\n")
            text = "\n".join(line for line in lines if not _FOOTER_WORDS.search(line))
        elif len(text) < 80:
            text = ""  # a post that is nothing but a footer
    if text and (not text[:1].isalnum() or ":" in text or "\n" in text):
        text = _MARKER.sub(" ", text)
    if "(" in text:
        text = _PAREN_TAG.sub(" ", text)
    if "-" in text or "—" in text or "–" in text:
        text = _DASH_TAG.sub(" ", text)
    return text


def _canon_number(raw: str, group: bool) -> str:
    """'6,000' / '6 000' → '6000'; '6,1' / '6.10' → '6.1'; '6.0' → '6'."""
    if group:
        return re.sub(r"\D", "", raw).lstrip("0") or "0"
    raw = raw.replace(",", ".")
    if "." not in raw:
        return raw.lstrip("0") or "0"
    whole, frac = raw.split(".", 1)
    frac = frac.rstrip("0")
    whole = whole.lstrip("0") or "0"
    return f"{whole}.{frac}" if frac else whole


def _scale(number: str, factor: int) -> str:
    """Apply a word multiplier: ('1.5', 1000) → '1500'."""
    try:
        value = Decimal(number) * factor
    except InvalidOperation:
        return number
    text = format(value.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _lex(text: str) -> list[tuple[str, str]]:
    """(kind, token) pairs of already-stripped text: 'w' word (case kept: capitals mark
    names), 'n' number, 't' clock time, 'p' sentence end, 'q' quotation mark."""
    out: list[tuple[str, str]] = []
    append = out.append
    last = ""
    tokens = (_TOKEN if _NUMBER_BLOB.search(text) else _SCAN).findall(text)
    for tok in tokens:
        c = tok[0]
        if c.isdigit():
            if ":" in tok:
                append(("t", tok.zfill(5)))
                last = "t"
            else:
                grouped = tok.isdigit() is False and _GROUPED.fullmatch(tok) is not None
                append(("n", _canon_number(tok, grouped)))
                last = "n"
        elif c.isalpha():
            if last == "n":
                factor = _multiplier(tok)
                if factor:
                    out[-1] = ("n", _scale(out[-1][1], factor))
                    continue
            if "'" in tok or "’" in tok or "ʼ" in tok:
                tok = _APOSTROPHES.sub("", _POSSESSIVE.sub("", tok))
            append(("w", tok))
            last = "w"
        else:
            last = _PUNCT_KIND.get(c, "p")
            append((last, tok))
    return out


def _raw_tokens(text: str) -> list[tuple[str, str]]:
    """Word, number and time tokens of already-stripped text (see :func:`_lex`)."""
    return [t for t in _lex(text) if t[0] in "wnt"]


def _prepare(text: str) -> str:
    """Unicode clean-up shared by every path: drop stress marks and variation selectors."""
    return _STRESS.sub("", text) if not text.isascii() else text


def normalize(text: str) -> list[str]:
    """Tokens for comparison: casefolded words and canonical numbers, with markers, emoji,
    punctuation, URLs, mentions and source tags stripped. Works for Latin and Cyrillic."""
    return [
        tok.casefold().replace("ё", "е") if kind == "w" else tok
        for kind, tok in _raw_tokens(_strip_tags(_prepare(text)))
    ]


# --------------------------------------------------------------------------- lexicon

# Concepts of breaking-news language in English, Russian and Ukrainian. A line is
# "concept: forms" (more indented lines add forms); a form ending in "*" is a prefix
# (Cyrillic inflects), other forms match a whole word or, for Latin words, its stem.
# "n:N" lines are number words (soft numbers). Geography is listed because transliteration
# alone cannot match "Стамбул" and "Istanbul"; personal names are left to transliteration.
_LEXICON = """
    # diplomacy and politics
    talks: talks talk negotiation negotiations negotiating negotiate negotiated negotiator
        negotiators переговор* перемовин* перемовн*
    meeting: meeting meetings meet meets met встреч* встрет* встрти* зустріч* зустрін* зустрів*
        зустрілис*
    round: round rounds раунд* тур тура туре турі
    session: session sessions сессия сессии засідан* заседан*
    summit: summit summits саммит* саміт*
    delegation: delegation delegations delegate delegates делегац*
    minister: minister ministers ministry ministries министр* міністр* министерств* міністерств* mfa
        fm мид мзс мвд мвс минобороны міноборони
    foreign: foreign иностран* закордон* зовнішн* внешн* mfa fm мид мзс
    defence: defence defense оборон* минобороны міноборони
    interior: interior внутренн* внутрішн* мвд мвс
    president: president presidents presidential presidency президент*
    premier: premier премьер* премєр*
    government: government governments cabinet правительств* уряд уряду урядом уряді урядов*
    parliament: parliament parliamentary lawmakers mps парламент* депутат* рада ради раді радою
    official: official officials чиновник* посадов* посадовц* официальн* офіційн*
    source: source sources источник* джерел*
    press: journalist journalists reporter reporters press журналист* журналіст* репортер* сми змі
    spokesman: spokesman spokeswoman spokesperson представител* представник* речник* пресс-секретар*
        пресс секретар*
    head: head leader chief глава главы главой лидер* очільник* керівник* руководител*
    election: election elections elect elected electoral vote votes voted voting voter voters ballot
        ballots выбор* вибор* голосован* голосуванн* проголосува* проголосова* избира* виборч*
        избиратель*
    runoff: runoff
    poll: poll polls polling
    exitpoll: exit exitpoll экзитпол* екзитпол*
    poll: экзитпол* екзитпол*
    win: win wins won winning winner victory victorious побед* перемог* перемож* переміг* выиграл*
        виграл* виграв*
    lead: lead leads leading ahead лидиру* лідиру* лідирує
    defeat: defeat concede concedes conceded conceding поражен* поразк* програв* проиграл*
    react: congratulate congratulates congratulated congratulating congratulations condemn condemns
        condemned condemnation welcome welcomes welcomed praise praised praises criticise criticised
        criticize criticized slam slams slammed denounce denounced condolences mourn mourns поздрав*
        привіта* привітав* привітал* вітав* вітаю осуди* осуж* засуди* засудж* приветств* похвал*
        раскритик* розкритик* соболезн* співчут*
    result: result results outcome итог* результат* підсумк* підсумок
    count: count counted counting counts подсчет* подсчит* підрахун* підраховано
    turnout: turnout явк*
    candidate: candidate candidates кандидат*
    sanctions: sanction sanctions санкц*
    ceasefire: ceasefire truce armistice перемири* перемиря* прекращени* припиненн* припинення
    war: war wars войн* війн*
    peace: peace peaceful
    memorandum: memorandum memo memorandums меморандум*
    demand: demand demands demanded demanding require requires required вимага* вимог* требова*
        требу* требует
    withdraw: withdraw withdraws withdrew withdrawal withdrawn pullout вывод* вывест* выведен*
        виведен* вивест* вивід* вивод*
    forces: forces troops army armed military войск* військ* всу зсу арми* армі*
    soldier: soldier soldiers servicemen serviceman fighters fallen defenders военн* військов*
        солдат* бойц* бійц* военнослужащ* військовослужбов* защитник* захисник*
    region: region regions regional oblast province provinces област* регион* регіон* провинци*
        провінці*
    position: position positions stance позици* позиці*
    change: change changed changes unchanged изменил* изменен* змінил* змінен* зміни
    exchange: exchange exchanged exchanges swap swaps swapped обмен* обмін* обміня* обменя* обмінят*
    return: repatriation repatriate repatriated return returned returns restore restored restores
        restoring restoration back вернут* верну* вернул* возвращ* поверн* восстанов* відновлен*
        відновлено
    body: body bodies remains тело тела тел телам телами телах тіло тіла тіл тілам тілами тілах
    dead: dead death deaths died die dies killed kill kills killing fatalities fatality toll погиб*
        загиб* загинул* загинув* убит* убил* вбит* вбив* смерт* гибел* погибл* загибл*
    injured: injured injuring injuries injury wounded wounding hurt ранен* поранен* пострада*
        постражда* травм* пострадавш*
    prisoner: prisoner prisoners pow pows captive captives captivity пленн* плен* полон*
        військовополонен* военнопленн*
    child: child children kids дет* діт* ребен* ребён* дитин*
    deport: deported deportation deport deportees депорт*
    list: list lists список* спис*
    civilian: civilian civilians residents мирн* жител* мешкан*
    people: people person persons человек людей люди людина осіб особи
    man: man men мужчин* чоловік*
    woman: woman women женщин* жінк* жінок
    police: police policeman officers полиц* поліці* поліцейськ* полицейск*
    court: court courts суд суда суде суду судом судебн* судов*
    girl: girl girls teen teenager teenage девоч* девушк* дівчин* дівчат* підліт* подрост*
    attack: attack attacks attacked assault атак* атаку* обстрел* обстріл* нападени*
    drone: drone drones uav uavs shahed shaheds бпла бпла беспилотник* безпілотник* дрон* шахед*
    missile: missile missiles rocket rockets ракет* ракета
    ballistic: ballistic баллистич* балістич*
    bomb: bomb bombs bombing bombed кабом каб бомб*
    shotdown: downed intercepted intercept shot сбит* сбил* сбито збит* збил* збито знешкод*
        перехвач* перехопл*
    airdefence: пво ппо
    hit: hit hits struck strike strikes удар* влучи* влучан* влучил* попад* попал* поцил*
    building: building buildings block apartment house houses home homes здани* будинк* будинок
        будівл* дом дома домов многоэтаж* багатоповерх* квартир*
    residential: residential жил* житлов*
    village: village villages settlement settlements село села селах сёл сіл селищ* посел* населен*
    district: district districts район* округ*
    border: border borders borderland frontier границ* кордон* прикордон* пригранич*
    evacuation: evacuation evacuate evacuated evacuating evacuees эвакуац* эвакуир* евакуац*
        евакуйов*
    mandatory: mandatory compulsory forced обязательн* принудительн* обовязков* примусов*
    night: night overnight nights ночь* ночью ночн* вночі ніч ночі нічн*
    morning: morning mornings утр* утром ранок ранку вранці
    evening: evening вечер* вечір вечора ввечері
    afternoon: afternoon днем вдень пополудні
    today: today сегодня сьогодні
    tomorrow: tomorrow завтра
    yesterday: yesterday вчера вчора
    day: day days дня дней день сутки суток доба доби добу дні днів
    hour: hour hours hr h час часа часов часу годин* ч
    minute: minute minutes min мин минут* хвилин* хв
    week: week weeks weekly недел* тижн* тижд*
    month: month months месяц* місяц*
    year: year years год года лет году рік року роки років
    expect: expect expected expects expecting expectations ожида* ожидаем* очіку* очікуван*
    soon: shortly soon imminent ближайш* найближч* скоро вскоре незабаром невдовзі
    first: first initially firstly перв* перш* спершу сначала спочатку
    second: second второ* втори*
    next: next following upcoming следующ* наступн*
    propose: propose proposes proposed proposal proposals offer offers offered suggest suggested
        предлож* пропону* запропон* пропозиці*
    prepare: prepare prepares prepared preparing preparation ready готов* готує* готуєт* підготов*
        подготов*
    sure: sure unsure uncertain certain уверен* впевнен*
    productive: productive productively продуктивн*
    important: important priority matters matter главн* важн* важлив* приоритет* пріоритет* головн*
    funding: funding fund funds funded finance financing financial money cash финансир* фінансува*
        фінансув* финансов* фінансов* деньги денег грош* средств* кошт*
    weapons: weapon weapons arms armament armaments оружи* зброї зброя зброю вооружен* озброєн*
    production: production produce produced producing manufacturing manufacture производств*
        производ* виробництв* вироб*
    domestic: domestic own homegrown собствен* власн* отечествен* вітчизнян*
    support: support supports supported помощ* поддерж* підтрим* допомог*
    partners: partner partners allies ally партнер* союзник*
    breakthrough: breakthrough breakthroughs прорыв* прорив*
    step: step steps шаг* шаги крок* кроки
    small: small minor little modest небольш* незначительн* невелик* маленьк* незначн* малі
    big: big major large huge great significant крупн* велик* значн* значительн* серйозн* серьезн*
    handshake: handshake handshakes рукопожат* рукостиск*
    maximalist: maximalist maximalism максималист* максималіст*
    unacceptable: unacceptable неприемлем* неприйнятн*
    negative: negative negatively негатив* негативн*
    positive: positive positively позитив* позитивн*
    constructive: constructive конструктив*
    # places and peoples (script-neutral names of the usual geography)
    ukraine: ukraine ukrainian ukrainians kyiv's украин* україн* украї* всу зсу
    russia: russia russian russians russias россия* росси* российск* россиян* росія* росії росію
        російськ* росіян* рф
    kyiv: kyiv kiev киев* київ* києв*
    moscow: moscow kremlin москв* кремл*
    turkey: turkey turkish turkiye türkiye turks турци* турецк* туреччин* турецьк* турк*
    ankara: ankara анкар*
    istanbul: istanbul стамбул* константинопол*
    poland: poland polish poles польш* польск* польщ* польськ* поляк*
    warsaw: warsaw варшав*
    usa: usa america american americans washington сша америк* вашингтон*
    europe: europe european europeans eu европ* європ* ес єс евросоюз* євросоюз*
    britain: britain british uk england великобритан* британ* лондон* london
    germany: germany german germans berlin германи* німеччин* немецк* німецьк* берлин* берлін*
    france: france french paris франци* франці* французск* французьк* париж*
    china: china chinese beijing китай* китаї пекин* пекін*
    israel: israel israeli israelis израил* ізраїл*
    gaza: gaza
    iran: iran iranian иран* іран*
    nato: nato нато
    un: un оон
    belarus: belarus belarusian minsk беларус* білорус* белорус* минск* мінськ*
    greece: greece greek greeks грец* греци* греч* греки
    spain: spain spanish испани* іспані*
    korea: korea korean koreans коре* корея
    crimea: crimea crimean крым* крим*
    donetsk: donetsk донецк* донецьк* донбас* donbas donbass
    luhansk: luhansk lugansk луганск* луганськ*
    zaporizhzhia: zaporizhzhia zaporizhia zaporozhye запорож* запоріж*
    kherson: kherson херсон*
    kharkiv: kharkiv kharkov харьков* харків* харкiв*
    odesa: odesa odessa одесс* одес* одещин* одеськ* одесськ*
    sumy: sumy сумы сумах сумам сумщин* сумськ* сумск*
    dnipro: dnipro dnepr днепр* дніпр* дніпро
    lviv: lviv lvov львов* львів*
    mykolaiv: mykolaiv nikolaev николаев* миколаїв*
    vilnius: vilnius вильнюс* вільнюс*
    black: black черн* чорн*
    sea: sea seas море моря морем морі морск* морськ*
    palace: palace palaces дворец* дворц* палац*
    venue: venue venues место* місце*
    # security and war
    explosion: explosion explosions blast blasts explode exploded взрыв* вибух*
    hear: hear heard hearing слышн* слыша* слышал* лунают* лунають лунал* чути чутно
    debris: debris fragments wreckage обломк* уламк* уламок
    roof: roof roofs rooftop крыш* дах даху дахом
    alarm: alarm siren sirens тревог* тривог* сирен*
    raid: raid raids налет* наліт* нальот*
    shelter: shelter shelters укрыти* укритт* бомбоубежищ* бомбосховищ*
    artillery: artillery shelling артиллер* артилер*
    front: front frontline фронт* передов*
    offensive: offensive advance advancing наступлен* наступ наступу наступає наступа*
    capture: captured capture seized occupy occupied захват* захвати* захопи* захопл* оккуп* окуп*
    tank: tank tanks танк*
    plane: plane planes aircraft jet jets airliner airplane самолет* самолёт* літак* авиалайнер*
    helicopter: helicopter helicopters вертолет* вертольот* гелікоптер*
    airport: airport airports аэропорт* аеропорт*
    flight: flight flights рейс* перелет* переліт*
    passenger: passenger passengers пассажир* пасажир*
    landing: landing landed land lands приземл* посадк* посадил* сів сіли
    crash: crash crashed crashes катастроф* разбил* розбив* крушени*
    ill: ill sick unwell illness плохо погано болезн* хвор* недомог*
    explosive: explosives explosive взрывчат* вибухівк*
    mine: mine mines mined мина мины минами заминир* міна міни мінами замінова*
    # politics and law
    resign: resign resigns resigned resignation отставк* відставк* уволь* увольн* звільнен*
    dismiss: dismiss dismissed dismisses dismissal sacked fired уволил* уволен* звільнил* звільнила
        звільнили
    appoint: appoint appointed appoints appointment nominated назнач* призначи* призначен*
    decree: decree decrees указ указа указом указу указе
    sign: sign signed signs signing подписа* подпиши* підписа* підпис
    law: law laws bill bills legislation закон* законопроект*
    speaker: speaker спикер* спікер*
    party: party parties парти* партія партії
    opposition: opposition оппозиц* опозиц*
    protest: protest protests protesters demonstrators rally rallies протест* митинг* мітинг*
        демонстрант*
    arrest: arrest arrested arrests detained detain custody арест* задержан* затриман* затримал*
        арештова*
    sentence: sentenced sentence verdict convicted jailed приговор* вирок* осужд* засуджен*
    prison: prison jail prisons тюрьм* тюрем* вязниц* колони*
    investigation: investigation investigators probe inquiry расследован* розслідуван* следств*
        слідств* слідчі
    charge: charged charges accused обвин* звинувач* подозрен* підозр*
    corruption: corruption bribe bribery коррупц* корупц* взятк* хабар*
    visit: visit visits visited visiting визит* візит* посетил* відвідав* відвідал*
    ambassador: ambassador ambassadors envoy посол посла послом послу послы послов посли послів
        посланник*
    embassy: embassy embassies посольств*
    agreement: agreement agreements deal deals treaty accord соглашен* угод* договоренн*
        домовленост*
    statement: statement statements заявлен* заяв* заява
    mayor: mayor mayors мэр* мер мера мером мерові
    governor: governor governors губернатор*
    # economy and money
    key: key ключев* ключов* облікову облікова обліков*
    hold: hold holds keep keeps kept unchanged maintain maintained сохрани* сохранил* сохраня*
        зберіг* зберег* зберіга* залиши* оставил* оставля*
    centralbank: nbu cbr fed ecb нбу цб нацбанк* центробанк* центрбанк*
    central: central центральн*
    economy: economy economic экономик* економік* экономическ* економічн*
    gdp: gdp ввп
    budget: budget budgets бюджет*
    tax: tax taxes налог* податк* податок
    dollar: dollar dollars usd доллар* долар*
    euro: euro euros eur евро євро
    hryvnia: hryvnia hryvnias uah гривн* гривен* гривень
    rouble: rouble roubles ruble rubles rub рубл*
    currency: currency currencies валют*
    forecast: forecast forecasts projected projection прогноз* прогнозу*
    basis: basis базисн* базових
    points: points пункт* пунктів
    growth: growth рост* зростан*
    market: market markets stocks shares рынок рынк* ринок ринк* бирж* біржі
    company: company companies firm концерн* компани* компані*
    # disasters, rescue, health
    dam: dam dams дамб*
    river: river rivers река реки реке реку рекой річк* річці річка
    water: water waters floodwater floodwaters вода воды воде воду водой води водою воді
    level: level levels уровен* уровн* рівен* рівень рівня
    drown: drowned drowning drowns утонул* утону* утоп* потонув потонул* втопи* втопил*
    rain: downpour downpours rainfall heavy-rain ливн* ливень злив* дощ* дожд*
    missing: missing disappeared пропал* пропавш* безвест* зниклі зник*
    search: search searching searches поиск* пошук* розшук* разыск*
    forest: forest forests woodland лес лесн* лесов* ліс лісов* лісі
    hectare: hectare hectares га гектар*
    contain: contained containment локализ* локаліз*
    firefighter: firefighters firefighter пожарн* пожежн* вогнеборц*
    hospital: hospital hospitals hospitalised hospitalized больниц* госпитал* госпітал* лікарн*
        госпитализ* госпіталіз*
    doctor: doctor doctors medics medical врач* лікар* медик*
    virus: virus viruses вирус* вірус* infection инфекц* інфекц*
    # transport
    train: train trains railway rail поезд* потяг* железнодорож* залізнич* укрзалізниц*
    road: road roads highway motorway дорог* трасс* траса шосе автодорог*
    bridge: bridge bridges мост* мосту
    car: car cars vehicle vehicles автомобил* автомобіл* машин*
    bus: bus buses автобус*
    accident: accident collision дтп авари* аварі*
    # sport
    match: match matches game матч* гра грі
    beat: beat beats defeated победил* переміг* обыграл* обіграв*
    score: score scored рахун* счет* счёт*
    final: final finals финал* фінал*
    cup: cup cups кубок кубк* кубку
    goal: goal goals гол гола голом голи
    halftime: halftime half-time перерыв* перерв*
    team: team teams club команда команды команде команду командой клуб* збірн* сборн*
    coach: coach coaches тренер*
    league: league лиг* ліг*
    # other
    home: home додому домой дома вдома
    work: work working works работа* працю* працює працюють
    water-supply: водопостачан* водоснабжен*
    heating: heating отоплен* опаленн*
    vienna: vienna вена вене вену веной відень відня відні
    # economy
    oil: oil crude brent нефт* нафт*
    gas: gas газ газа газу газом
    bank: bank banks banking банк*
    price: price prices цен* ціни цін ціна
    inflation: inflation cpi inflationary инфляц* інфляц*
    rate: rate rates ставк*
    percent: percent pct процент* відсот*
    rise: rise rises rising rose risen jump jumps jumped climb climbs climbed increase increases
        increased hike hikes raise raised вырос* выросл* рост* зрос* підвищ* повыш* увелич* збільш*
        подорож*
    fall: fall falls falling fell drop drops dropped decline declines declined slow slows slowed
        ease eased eases lower lowered cut cuts recede recedes receding спада* спад* снизи* снижен*
        знизи* зниж* упал* паден* впал* сократ* скороти* скорот* замедл* уповільн*
    output: output barrels bpd добыч* видобут*
    target: target targets цель* цели ціль* цілі
    # disasters and weather
    quake: earthquake earthquakes quake quakes tremor tremors землетрясен* землетрус* толчк* толчок*
        поштовх*
    aftershock: aftershock aftershocks афтершок*
    magnitude: magnitude магнитуд* магнітуд*
    damage: damage damaged destruction destroyed разрушен* руйнуван* руйнац* пошкодж* поврежд*
        разруш* зруйн*
    felt: felt feel ощуща* ощутил* відчува* відчули
    coast: coast coastal offshore побереж* узбереж*
    island: island islands остров* острів* острові
    school: school schools школ*
    closed: closed closes closure закры* закрит* закрил* закрива*
    inspect: inspect inspection inspections inspected провер* перевір* обследова* обстеж*
    storm: storm storms stormy thunderstorm thunderstorms шторм* негод* бур* гроз* штормов*
    warning: warning warnings warn warns warned alert alerts предупрежд* попередж* попереджен*
    hail: hail град града градом
    wind: wind winds windy gust gusts squall squalls ветер ветр* вітер вітр* шквал* порыв* порив*
    rain: rain rains rainfall downpour dowpours дожд* злив*
    power: power electricity electric energy свет света світло світла электроэнерг* електроенерг*
        электричеств* електрик* енерг* энерг* електропостачан* электроснабжен*
    outage: outage outages blackout blackouts отключен* відключен* знеструм* обесточ* відключ*
        отключ*
    household: household households customers subscribers homes абонент* споживач* потребител*
        домохозяйств* домогосподарств*
    tree: tree trees дерев*
    port: port ports порт*
    load: load loading loaded погруз* завантаж* відвантаж* відвантажен*
    halt: halt halts halted suspend suspends suspended suspension stop stops stopped приостанов*
        призупин* зупин* останов* прекрати*
    ship: ship ships vessel vessels судн* корабл*
    fire: fire fires blaze wildfire wildfires пожар* пожеж* возгоран* загоранн* загорання загорів*
    flood: flood floods flooding flooded наводнен* паводк* повін* повен* затоплен* підтоплен*
    heat: heat heatwave hot жар* спек* спеку
    temperature: temperature temperatures температур* градус*
    rescue: rescue rescuers rescued спасател* спасен* рятувальн* врятува*
    emergency: emergency emergencies чрезвычайн* надзвичайн* мчс дснс экстренн* екстрен* аварийн*
        аварійн*
    football: football soccer футбол*
    fans: fans supporters фанат* болельщик* уболівальник*
    title: title champions championship чемпион* чемпіон* титул*
    crowd: crowd crowds толп* натовп*
    celebrate: celebrate celebrated celebration celebrations праздн* святку* відзнач*
    # number words (soft numbers)
    n:1: one один одна одно одного одной одну одним єдин*
    n:2: two два две двух двое двоє двом двома
    n:3: three три трех трёх трое троє трьох
    n:4: four четыре четырех четырёх чотири чотирьох
    n:5: five пять пяти пятью пяти пятеро пять пять пятерых пять пять
    n:6: six шесть шести шість шести
    n:7: seven семь семи сім семи
    n:8: eight восемь восьми вісім восьми
    n:9: nine девять девяти девять девяти
    n:10: ten десять десяти десять
    n:11: eleven одиннадцат* одинадцят*
    n:12: twelve двенадцат* дванадцят*
    n:15: fifteen пятнадцат* пятнадцят*
    n:20: twenty двадцат* двадцят*
    n:30: thirty тридцат* тридцят*
    n:50: fifty пятьдесят пятидесят* пятдесят*
"""
# Concepts that can be the subject of an event state ("talks ended", "warning lifted").
# Rounds and sessions are talks; a meeting is its own subject.
_SUBJECTS = {
    "c:talks": "talks", "c:round": "talks", "c:session": "talks", "c:meeting": "meeting",
    "c:summit": "summit", "c:ceasefire": "ceasefire", "c:warning": "warning",
    "c:evacuation": "evacuation", "c:exchange": "exchange", "c:election": "election",
    "c:count": "count", "c:sanctions": "sanctions", "c:halt": "halt", "c:outage": "outage",
    "c:school": "school", "c:port": "port",
}  # fmt: skip


def _parse_lexicon(text: str) -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    exact: dict[str, list[str]] = {}
    prefix: dict[str, list[str]] = {}
    concept = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if raw.startswith("        "):  # a continuation line: more forms of the concept
            forms = line
        else:
            name, _, forms = line.partition(": ")
            concept = name[2:] if name.startswith("n:") else "c:" + name
        for form in forms.split():
            table, key = (prefix, form[:-1]) if form.endswith("*") else (exact, form)
            held = table.setdefault(key, [])
            if concept not in held:
                held.append(concept)
    return ({k: tuple(v) for k, v in exact.items()}, {k: tuple(v) for k, v in prefix.items()})


_LEX_EXACT, _LEX_PREFIX = _parse_lexicon(_LEXICON)
_LEX_MAX_PREFIX = max(map(len, _LEX_PREFIX))
_NUMBER_WORDS = frozenset(c for v in _LEX_EXACT.values() for c in v if c[:1].isdigit()) | \
    frozenset(c for v in _LEX_PREFIX.values() for c in v if c[:1].isdigit())


# --------------------------------------------------------------------------- features

_STOP_WORDS = """
    a an the and or but nor so yet if then than that this these those there here it its it's
    is are was were be been being am do does did done has have had having will would shall
    should can could may might must of in on at to for from by with without about into onto
    over under after before during since until up down out off as not no yes all any some
    each every both either neither other another such own same very just only also too more
    most much many few less least again further once he she they we you i me him her them us
    my your his their our who whom whose which what when where why how said says say saying
    told tells according reported reports report reporting breaking update updates adding
    urgent live new latest news via amid while per one s t mr ms st nd rd th am pm
    between now still already even ago around against within among through including
    и в во не что он на я с со как а то все она так его но да ты к у же вы за бы по только
    ее её мне было вот от меня еще ещё нет о из ему теперь когда даже ну вдруг ли если уже
    или ни быть был него до вас нибудь опять уж вам ведь там потом себя ничего ей может они
    тут где есть надо ней для мы тебя их чем была сам чтоб без будто чего раз тоже себе под
    будет ж тогда кто этот того потому этого какой совсем ним здесь этом один почти мой тем
    чтобы нее сейчас были куда зачем всех никогда можно при наконец два об другой хоть после
    над больше тот через эти нас про всего них какая много разве три эту моя впрочем хорошо
    свою этой перед иногда лучше чуть том нельзя такой им более всегда конечно всю между
    это также заявил заявила заявили сообщил сообщила сообщили сообщает сообщают говорит
    сказал сказала передает срочно молния важно
    і й та але що як це цей ця ці той та ті він вона вони ми ви я ти його її їх їм на в у
    до з із зі від по за для про при над під без через між після перед не ні так також вже
    ще теж лише тільки як коли де чи або був була було були буде є бути може можуть свій
    своє своя свої який яка яке які котрий заявив заявила заявили повідомив повідомила
    повідомили повідомляє каже сказав сказала терміново важливо блискавка
"""
_STOP = frozenset(_STOP_WORDS.split())
# Event states: two reports giving one subject opposite states describe different events.
# Entries of five letters or more match as prefixes, shorter ones only as whole words.
_EVENT_WORDS: dict[str, tuple[str, ...]] = {
    "start": ("began", "begin", "begins", "begun", "start", "starts", "started", "starting",
              "kicked", "underway", "resume", "resumed", "commence", "opened",
              "начал", "начн", "начин", "старт", "возобнов", "розпоч", "почал", "почин",
              "почн", "відновил"),
    "end": ("ended", "ending", "ends", "end", "finish", "conclud", "wrapped", "wraps",
            "lasted", "complet", "заверш", "закончи", "законч", "окончен", "длил", "закінч",
            "тривал"),
    "delay": ("delay", "postpon", "задерж", "отлож", "перенес", "откладыв", "затрим",
              "відклад", "перенос", "опізн", "опазд"),
    "on": ("issued", "declared", "imposed", "introduc", "объявл", "введен", "ввели",
           "оголош", "запровад"),
    "off": ("lifted", "cancel", "revoked", "отмен", "снят", "сняли", "скасов", "знят",
            "зняли"),
    "agree": ("agreed", "agree", "agrees", "accept", "approv", "договор", "соглас",
              "домовил", "погодил", "одобр", "схвал"),
    "reject": ("reject", "refus", "declin", "отказ", "отклон", "отверг", "відмов",
               "відхил"),
}  # fmt: skip
# Words a prefix would misread: "начальник" (chief), "задержан" (detained), "declining".
_EVENT_EXCEPTIONS = ("начальн", "задержан", "задержал", "затриман", "затрим", "переносн",
                     "договорн", "согласн", "declini")  # fmt: skip
_EVENT_PREFIXES = {k: tuple(w for w in v if len(w) >= 5) for k, v in _EVENT_WORDS.items()}
_EVENT_EXACT = {w: k for k, v in _EVENT_WORDS.items() for w in v if len(w) < 5}
_BE = frozenset(("is", "are", "was", "were", "s", "now", "been", "be", "all"))
_LATE_AFTER = frozenset(("running", "start", "starts", "started", "begin", "begins", "began",
                         "is", "are", "was", "were", "arrived", "minutes", "hour", "hours"))
# Event states that only count in context: "is over", "under way", "pushed back", "running
# late", "behind schedule".
_CONTEXT_EVENTS = frozenset(("over", "way", "back", "late", "behind", "schedule"))
# "plan" is a start or end still ahead ("talks to begin shortly", "должны начаться"): another
# event than the start itself.
_OPPOSED = frozenset(
    {("start", "end"), ("start", "delay"), ("end", "delay"), ("on", "off"),
     ("agree", "reject"), ("plan", "start"), ("plan", "end")}
)  # fmt: skip
_FUTURE_BEFORE_LIST = """
    to will expected expect expects due set scheduled plan plans planned planning should
    would could may might going ready hope hopes
    должны должна должно должен ожидается ожидают ожидаются планируется планируют будут
    будет могут может собираются готовы
    мають має повинні планують планується очікується очікують буде будуть можуть готові
"""
_FUTURE_BEFORE = frozenset(_FUTURE_BEFORE_LIST.split())
_FUTURE_AFTER_LIST = """
    shortly soon later tomorrow скоро вскоре ближайшее завтра незабаром невдовзі
    найближчим завтра
"""
_FUTURE_AFTER = frozenset(_FUTURE_AFTER_LIST.split())
_FUTURE_FORMS = ("начн", "почн", "розпочн", "завершат", "закончат", "закінчат")
_MONTH_WORDS = """
    january february march april may june july august september october november december
    jan feb mar apr jun jul aug sep sept oct nov dec января февраля марта апреля мая июня
    июля августа сентября октября ноября декабря січня лютого березня квітня травня червня
    липня серпня вересня жовтня листопада грудня"""
_MONTHS = frozenset(_MONTH_WORDS.split())
_CYRILLIC = re.compile("[\u0400-\u04ff]")
_RU_LETTERS = re.compile("[ыэъ]")
_UK_LETTERS = re.compile("[іїєґ]")
_CYR_ENDING_WORDS = """
    иями ями ами ого его ому ему ими ыми ых их ий ый ой ая яя ое ее ую юю ом ем ам ям
    ах ях ов ев ей ия ие ию ии ье ья ью ться тся илась ились ился илось ила ило или
    ілися илися лися лись ла ли ло ся сь ет ют ут ит ат ят ать ять ить еть ість ості
    іть ові еві ою ею ої ій а я о е ы и у ю ь й і ї є"""
_CYR_ENDINGS = tuple(sorted(set(_CYR_ENDING_WORDS.split()), key=len, reverse=True))
_LAT_SUFFIXES = (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", ""))
_SKELETON_LEN = 3
_SKELETON_PAIRS = (
    ("shch", "s"), ("sch", "s"), ("sh", "s"), ("zh", "z"), ("kh", "h"), ("ch", "c"),
    ("ph", "f"), ("ck", "k"), ("w", "v"), ("q", "k"), ("x", "ks"), ("j", "i"), ("z", "s"),
    ("g", "h"),
)  # fmt: skip
_SOFT_C = re.compile(r"c(?=[eiy])")
_NON_ALPHA = re.compile(r"[^a-z]")


def _stem(word: str) -> str:
    """A light, language-agnostic stem: strip a common ending, keep at most six letters."""
    if _CYRILLIC.search(word):
        return _cyr_base(word)[:6]
    if not word.isascii():
        word = anyascii(word).lower()
    base = word
    if len(word) > 4 and not word.endswith(("ss", "us", "is")):
        for suffix, repl in _LAT_SUFFIXES:
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                base = word[: -len(suffix)] + repl
                break
    if base.endswith("e") and len(base) > 3:
        base = base[:-1]
    return base[:6]


_CYR_ENDINGS_BY_LEN = tuple(
    (n, frozenset(e for e in _CYR_ENDINGS if len(e) == n))
    for n in sorted({len(e) for e in _CYR_ENDINGS}, reverse=True)
)


def _cyr_base(word: str) -> str:
    """Strip the longest inflectional ending from a Cyrillic word (stem kept ≥ 3 letters)."""
    size = len(word)
    for n, endings in _CYR_ENDINGS_BY_LEN:
        if size - n >= 3 and word[-n:] in endings:
            return word[:-n]
    return word


def _skeleton(word: str) -> str:
    """Script-neutral key of a name: transliterate, fold similar spellings, keep the first
    letter and the next consonants ('Зеленського' and 'Zelensky' → 'zln')."""
    s = anyascii(word).lower()
    for a, b in _SKELETON_PAIRS:
        if a in s:
            s = s.replace(a, b)
    s = _NON_ALPHA.sub("", _SOFT_C.sub("s", s).replace("c", "k"))
    if not s:
        return ""
    out = [s[0]]
    for ch in s[1:]:
        if ch in "aeiouy" or ch == out[-1]:
            continue
        out.append(ch)
    return "".join(out)[:_SKELETON_LEN]


# Latin lexicon forms also match through their stem ("negotiators" → "negoti").
_LEX_STEMS: dict[str, tuple[str, ...]] = {}
for _form, _concepts in _LEX_EXACT.items():
    if _form.isascii() and len(_form) >= 4:
        _LEX_STEMS.setdefault(_stem(_form), _concepts)
del _form, _concepts


def _lookup(low: str) -> tuple[str, ...]:
    """Concepts of a casefolded word from the lexicon (exact form, stem, longest prefix)."""
    hit = _LEX_EXACT.get(low)
    if hit is not None:
        return hit
    if low.isascii():
        return _LEX_STEMS.get(_stem(low), ()) if len(low) >= 4 else ()
    for k in range(min(len(low) - 1, _LEX_MAX_PREFIX), 2, -1):
        hit = _LEX_PREFIX.get(low[:k])
        if hit is not None:
            return hit
    return _LEX_PREFIX.get(low, ())


def _event_classes(word: str) -> tuple[str, ...]:
    """Context-free event states a casefolded word signals."""
    exact = _EVENT_EXACT.get(word)
    if exact:
        return (exact,)
    if len(word) < 5 or word.startswith(_EVENT_EXCEPTIONS):
        return ()
    return tuple(name for name, prefixes in _EVENT_PREFIXES.items() if word.startswith(prefixes))


def _context_event(word: str, prev: str, nxt: str) -> str | None:
    """States that need a neighbour: 'is over', 'under way', 'pushed back', 'running late',
    'behind schedule'."""
    if word == "over":
        return "end" if prev in _BE else None
    if word == "way":
        return "start" if prev == "under" else None
    if word == "back":
        return "delay" if prev in ("pushed", "put", "set") else None
    if word == "late":
        return "delay" if prev in _LATE_AFTER or nxt in ("start", "to") else None
    if word == "behind":
        return "delay" if nxt == "schedule" else None
    return None


@dataclass(slots=True)
class _Word:
    """Cached analysis of one casefolded word."""

    same: tuple[str, ...]  # terms for same-script comparison (concepts, stem, events)
    cross: tuple[str, ...]  # terms for cross-script comparison (concepts, skeleton, events)
    events: tuple[str, ...]  # context-free event states
    subject: str | None  # the event subject this word names, if any
    script: int  # 0 Latin, 1 Russian, 2 Ukrainian, 3 other Cyrillic
    number: bool  # a number word ("two", "троє")
    lower: tuple[str, ...] = ()  # cross terms when written in lower case (vocabulary)
    acronym: tuple[str, ...] = ()  # cross terms when written in capitals ("НБУ" = "NBU")
    special: bool = False  # an event or context word, a subject or an hour unit
    hour: bool = False  # names the unit hour (durations)


_NOTHING = ()


@lru_cache(maxsize=1 << 15)
def _token(tok: str) -> tuple[str, _Word, tuple[str, ...]]:
    """A word token as written: (casefolded form, analysis, cross-view terms). A word outside
    the lexicon is a name for the cross view only when capitalised ("НБУ" = "NBU")."""
    low = tok.casefold()
    if "ё" in low:
        low = low.replace("ё", "е")
    w = _word(low)
    wc = w.cross
    if w.acronym:
        if tok.isupper() and len(tok) > 1:
            wc = w.acronym
        elif not tok[0].isupper():
            wc = w.lower
    return low, w, wc


@lru_cache(maxsize=1 << 15)
def _word(low: str) -> _Word:
    w = _analyse(low)
    if w.events or w.subject or low in _CONTEXT_EVENTS or "c:hour" in w.same:
        return _Word(w.same, w.cross, w.events, w.subject, w.script, w.number, w.lower,
                     w.acronym, True, "c:hour" in w.same)  # fmt: skip
    return w


def _analyse(low: str) -> _Word:
    if _CYRILLIC.search(low):
        script = 1 if _RU_LETTERS.search(low) else 2 if _UK_LETTERS.search(low) else 3
    else:
        script = 0
    events = _event_classes(low)
    if events:
        tags = tuple("e:" + e for e in events)
        return _Word(tags, tags, events, None, script, False)
    if low in _STOP:  # number words ("one", "два") are the only stop words kept
        concepts = _LEX_EXACT.get(low, ())
        if concepts and concepts[0] in _NUMBER_WORDS:
            return _Word(concepts, concepts, _NOTHING, None, script, True)
        return _Word(_NOTHING, _NOTHING, _NOTHING, None, script, False)
    concepts = _lookup(low)
    if concepts:
        subject = next((_SUBJECTS[c] for c in concepts if c in _SUBJECTS), None)
        number = concepts[0] in _NUMBER_WORDS
        return _Word(concepts, concepts, _NOTHING, subject, script, number)
    if len(low) < 2:
        return _Word(_NOTHING, _NOTHING, _NOTHING, None, script, False)
    cross = lower = _NOTHING
    if len(low) >= 4:
        sk = _skeleton(low)
        if len(sk) >= 3:
            cross, lower = ("x:" + sk,), ("y:" + sk,)
    acronym = ("x:" + _NON_ALPHA.sub("", anyascii(low).lower()),) if len(low) <= 5 else cross
    return _Word((_stem(low),), cross, _NOTHING, None, script, False, lower, acronym)


@dataclass(slots=True, eq=True)
class _Features:
    """Everything the index compares, extracted once per update."""

    exact_seq: tuple[str, ...]  # normalized tokens for the exact-text key
    same: frozenset[str]  # concepts, stems, numbers, 'e:' events (same-script comparison)
    cross: frozenset[str]  # concepts, 'x:' name skeletons, numbers, events (cross-script)
    quantities: frozenset[str]  # numbers that are not years, dates, clock times or words
    events: frozenset[str]  # event states
    bound: frozenset[tuple[str, str]]  # (subject or '*', state) pairs
    quote_same: frozenset[str]  # terms inside quotation marks, per view
    quote_cross: frozenset[str]
    lead_same: frozenset[str]  # who or what a report is attributed to ("Turkish MFA:",
    lead_cross: frozenset[str]  # "Zelensky says …"), per view
    lang: str  # "lat" (Latin script), "ru", "uk" or "cyr" (Cyrillic, language unclear)
    followup: bool  # opens with "More:", "Adding:" … (a channel adding to its own post)
    anaphoric: bool  # a follow-up that goes on about the post before ("Adding: they lasted…")
    specific: bool  # carries a decimal or a figure of three digits or more
    size: int  # number of same-view terms

    @property
    def cyrillic(self) -> bool:
        return self.lang != "lat"


def _combined(title: str, text: str) -> list[tuple[str, str]]:
    """Tokens of title + text, the title dropped when the text already starts with it
    (Telegram 'titles' are the post's first line); the title ends a sentence."""
    body = _strip_tags(_prepare(text)) if text else ""
    head = _strip_tags(_prepare(title)).strip() if title else ""
    b = _lex(body) if body else []
    if not head:
        return b
    lead = body.lstrip()
    if lead.startswith(head) and not lead[len(head) : len(head) + 1].isalnum():
        return b  # the text opens with the title (cheap test before the token test)
    t = _lex(head)
    if not t:
        return b
    tw = [x[1].casefold() for x in t if x[0] in "wnt"]
    bw = [x[1].casefold() for x in islice((x for x in b if x[0] in "wnt"), len(tw))]
    if tw == bw:
        return b
    return [*t, ("p", "|"), *b]


def extract(title: str, text: str) -> _Features:
    """Features of one update (pure; exposed for debugging and tests)."""
    raw = _combined(title, text)
    followup = bool(_FOLLOWUP.match(text or title))
    seq: list[str] = []
    same: set[str] = set()
    cross: set[str] = set()
    q_same: set[str] = set()
    q_cross: set[str] = set()
    marks: list[tuple[int, int, str | None, str | None]] = []  # (sentence, pos, subj, state)
    numbers: list[tuple[int, str, bool]] = []  # (index, number, is a year or a day)
    hours: list[int] = []  # indexes of hour words (durations)
    scripts = [0, 0, 0, 0]
    sentence = pos = 0
    quoted = False
    lead_same: set[str] = set()
    lead_cross: set[str] = set()
    buf_same: list[str] = []  # terms of the opening clause of the title and of the text
    buf_cross: list[str] = []
    opening = True  # in the first sentence of the title or of the text
    words = 0  # words so far in the current sentence
    prev = prev2 = prev3 = ""
    n = len(raw)
    for i, (kind, tok) in enumerate(raw):
        if kind == "w":
            low, w, wc = _token(tok)
            seq.append(low)
            scripts[w.script] += 1
            pos += 1
            if opening:
                if (low in _SAY_WORDS and 1 <= words <= 4) or (
                        low in _ACT_WORDS and 1 <= words <= 3):
                    lead_same.update(buf_same)
                    lead_cross.update(buf_cross)
                    opening = False
                elif words >= 6:
                    opening = False  # too long for an attribution
                elif not w.events and low not in _LABELS:
                    buf_same.extend(w.same)
                    buf_cross.extend(wc)
                words += 1
            if w.special:
                nxt = raw[i + 1][1].casefold() if i + 1 < n and raw[i + 1][0] == "w" else ""
                state = _context_event(low, prev, nxt) if low in _CONTEXT_EVENTS else None
                if state:
                    same.add("e:" + state)
                    cross.add("e:" + state)
                    marks.append((sentence, pos, None, state))
                    prev3, prev2, prev = prev2, prev, low
                    continue
                for e in w.events:
                    if e in ("start", "end") and (
                        prev in _FUTURE_BEFORE or prev2 in _FUTURE_BEFORE
                        or prev3 in _FUTURE_BEFORE or nxt in _FUTURE_AFTER
                        or low.startswith(_FUTURE_FORMS)
                    ):  # fmt: skip
                        e = "plan"
                    marks.append((sentence, pos, None, e))
                if w.subject:
                    marks.append((sentence, pos, w.subject, None))
                if w.hour:
                    hours.append(i)
            if w.same:
                same.update(w.same)
                cross.update(wc)
                if quoted:
                    q_same.update(w.same)
                    q_cross.update(wc)
            prev3, prev2, prev = prev2, prev, low
            continue
        if kind == "p":
            sentence += 1
            prev = prev2 = prev3 = ""
            opening = tok == "|"  # the text starts after the title
            words = 0
            buf_same.clear()
            buf_cross.clear()
            if tok == "\n":
                quoted = False
            continue
        if kind == "c":
            if opening and 1 <= words <= 6:
                lead_same.update(buf_same)
                lead_cross.update(buf_cross)
            opening = False
            continue
        if kind == "q":
            quoted = tok == "«" or (tok != "»" and not quoted)
            continue
        seq.append(tok)
        same.add(tok)
        cross.add(tok)
        if quoted:
            q_same.add(tok)
            q_cross.add(tok)
        if kind == "n":
            calendar = False
            if len(tok) <= 4 and tok.isdigit():
                value = int(tok)
                if len(tok) == 4:
                    calendar = 1900 <= value <= 2100
                elif value <= 31:
                    nxt = raw[i + 1][1].casefold() if i + 1 < n else ""
                    calendar = prev in _MONTHS or nxt in _MONTHS
            numbers.append((i, tok, calendar))
        prev = prev2 = prev3 = ""
    if hours:
        quantities = _durations(raw, hours, numbers, same, cross)
    else:
        quantities = {tok for _, tok, calendar in numbers if not calendar}
    events = frozenset(m[3] for m in marks if m[3])
    lat, ru, uk, cyr = scripts
    fq = frozenset(quantities)
    return _Features(
        tuple(seq), frozenset(same), frozenset(cross), fq, events,
        _bind(marks) if events else _EMPTY, _quote(q_same) if q_same else _EMPTY,
        _quote(q_cross) if q_cross else _EMPTY,
        frozenset(lead_same) if lead_same else _EMPTY,
        frozenset(lead_cross) if lead_cross else _EMPTY, _language(lat, ru + uk + cyr, ru, uk),
        followup, followup and bool(seq) and seq[0] in _PRONOUNS, bool(fq) and _specific(fq),
        len(same),
    )  # fmt: skip


def _durations(
    raw: list[tuple[str, str]], hours: list[int], numbers: list[tuple[int, str, bool]],
    same: set[str], cross: set[str],
) -> set[str]:  # fmt: skip
    """Quantities with durations folded into minutes: "1 h 20 min", "1 hour and 20
    minutes", "an hour and twenty minutes" and "80 minutes" all give "80" (the total also
    becomes a term); the numbers of a duration are quantities only through its total."""
    used: set[int] = set()
    totals: set[str] = set()
    n = len(raw)
    for h in hours:
        amount = _amount(raw[h - 1], True) if h else None
        if amount is None or h - 1 in used:
            continue
        minutes = amount * 60
        used.add(h - 1)
        j = h + 1
        if j < n and raw[j][0] == "w" and raw[j][1].casefold() in _AND:
            j += 1
        unit = _word(raw[j + 1][1].casefold()).same if j + 1 < n and raw[j + 1][0] == "w" else ()
        if "c:minute" in unit:
            extra = _amount(raw[j], False)
            if extra is not None:
                minutes += extra
                used.add(j)
        total = format(minutes.normalize(), "f")
        totals.add(total)
    same.update(totals)
    cross.update(totals)
    totals.update(tok for i, tok, calendar in numbers if not calendar and i not in used)
    return totals


_AND = frozenset(("and", "и", "і", "та", "й"))
_ONE = frozenset(("an", "a", "one", "один", "одну", "одна"))
# Verbs of saying that end an attribution opening a report ("Turkey says …").
_SAY_VERB_LIST = """
    says said say tells told claims claimed announces announced confirms confirmed
    заявил заявила заявили заявляет сообщил сообщила сообщили сообщает говорит сказал
    сказала подтвердил подтвердила объявил объявила
    заявив заявила заявили повідомив повідомила повідомили повідомляє каже сказав
    підтвердив підтвердила оголосив оголосила
"""
_SAY_WORDS = frozenset(_SAY_VERB_LIST.split())
# Verbs of contact whose subject is who acted ("Zelensky held a call with Erdogan" is not
# "Putin held a call with Erdogan"): the opening words before one are a lead, as for "says".
_ACT_VERB_LIST = """
    held holds phoned phones called calls met meets spoke speaks discussed discusses
    провел провёл провела провели обсудил обсудила обсудили встретился встретилась
    встретились поговорил поговорили созвонился созвонились
    провів провела провели обговорив обговорила обговорили зустрівся зустрілася зустрілися
    поговорив поговорили
"""
_ACT_WORDS = frozenset(_ACT_VERB_LIST.split())
# Labels that open a post like an attribution but name nobody ("Reminder:", "Background:").
_LABEL_LIST = """
    reminder background context analysis explainer opinion comment recap timeline factbox
    watch photo photos video map live update breaking recall
    справка напоминаем напомним контекст подробности фото видео карта
    довідка нагадаємо нагадуємо нагадаємо контекст подробиці фото відео мапа
"""
_LABELS = frozenset(_LABEL_LIST.split())
_PRONOUN_LIST = """
    they it he she this these that those они он она оно это эти вони він вона воно це ці
"""
_PRONOUNS = frozenset(_PRONOUN_LIST.split())


def _amount(token: tuple[str, str], article: bool) -> Decimal | None:
    """Value of a number token or number word ("twenty"); "an"/"a" count as one when
    ``article``."""
    kind, tok = token
    if kind == "w":
        low = tok.casefold()
        if article and low in _ONE:
            return Decimal(1)
        w = _word(low)
        if not w.number:
            return None
        tok = w.same[0]
    elif kind != "n":
        return None
    try:
        return Decimal(tok)
    except InvalidOperation:
        return None


_EMPTY: frozenset[str] = frozenset()


def _quote(terms: set[str]) -> frozenset[str]:
    """Quoted terms worth checking: a short quote (a phrase, not a speech)."""
    return frozenset(terms) if 0 < len(terms) <= 6 else _EMPTY


def _bind(marks: list[tuple[int, int, str | None, str | None]]) -> frozenset[tuple[str, str]]:
    """Attach each event state to the nearest subject in its sentence ("the meeting has
    ended; talks to start shortly" → meeting:end, talks:start); '*' when there is none."""
    out: set[tuple[str, str]] = set()
    for sent, pos, _, state in marks:
        if state is None:
            continue
        best: tuple[int, str] | None = None
        for s2, p2, subj, _ in marks:
            if subj is None or s2 != sent:
                continue
            d = (p2 - pos) * 2 + 1 if p2 > pos else (pos - p2) * 2  # ties prefer the preceding
            if best is None or d < best[0]:
                best = (d, subj)
        out.add((best[1] if best else "*", state))
    return frozenset(out)


def _language(lat: int, cyr: int, ru: int, uk: int) -> str:
    """Coarse language from word counts: Latin script, or Russian/Ukrainian by their own
    letters (ы э ъ vs і ї є ґ)."""
    if lat >= cyr:
        return "lat"
    if ru > uk:
        return "ru"
    if uk > ru:
        return "uk"
    return "cyr"


# --------------------------------------------------------------------------- similarity


def _numbers_conflict(a: frozenset[str], b: frozenset[str]) -> float:
    """Multiplier for the quantities two reports carry: 1.0 when one side's numbers are a
    subset of the other's, lower when each has numbers the other lacks."""
    if not a or not b or a <= b or b <= a:
        return 1.0
    return _NUMBER_PARTIAL if a & b else _NUMBER_DISJOINT


def _events_conflict(a: frozenset[str] | set[str], b: frozenset[str] | set[str]) -> int:
    """2 when each report has an event state opposed to one only the other has ("talks
    began" vs "talks ended"), 1 when one adds a state opposed to one they share ("started"
    vs "start delayed"), else 0."""
    if not a or not b or a == b:
        return 0
    only_a, only_b = a - b, b - a
    if any((x, y) in _OPPOSED or (y, x) in _OPPOSED for x in only_a for y in only_b):
        return 2
    extra = only_a or only_b
    other = b if only_a else a
    if any((x, y) in _OPPOSED or (y, x) in _OPPOSED for x in extra for y in other):
        return 1
    return 0


def _bound_conflict(a: frozenset[tuple[str, str]], b: frozenset[tuple[str, str]]) -> int:
    """Event conflict per subject: the states each report gives one subject are compared
    (a state without a subject stands for any). Two reports giving the same state to
    different subjects ("the meeting ended" vs "the talks ended") conflict partially."""
    if not a or not b or a == b:
        return 0
    da: dict[str, set[str]] = {}
    db: dict[str, set[str]] = {}
    for s, e in a:
        da.setdefault(s, set()).add(e)
    for s, e in b:
        db.setdefault(s, set()).add(e)
    level = 0
    any_a, any_b = da.get("*"), db.get("*")
    for s in da.keys() | db.keys():
        x = da.get(s) or any_a
        y = db.get(s) or any_b
        if x and y:
            level = max(level, _events_conflict(x, y))
    if level == 0 and any_a is None and any_b is None and not (da.keys() & db.keys()):
        states_a = set().union(*da.values())
        if states_a & set().union(*db.values()):
            level = 1
    return level


def _quote_missing(quote: frozenset[str], other: frozenset[str]) -> bool:
    """True when a short quoted phrase of one report is mostly absent from the other: the
    quote is the news ("talks ended 'not negatively'" is not "talks ended")."""
    return bool(quote) and 2 * len(quote & other) < len(quote)


def _specific(quantities: frozenset[str]) -> bool:
    """Quantities a report is about: a decimal or a figure of three digits or more."""
    return any("." in q or len(q) >= 3 for q in quantities)


def _penalty(fa: _Features, fb: _Features, cross: bool) -> float:
    """Combined multiplier for hard-negative signals between two updates."""
    p = _numbers_conflict(fa.quantities, fb.quantities)
    if (not fa.quantities or not fb.quantities) and (
        (fa.specific and fb.size >= _LONG) or (fb.specific and fa.size >= _LONG)
    ):
        p *= _NUMBER_MISSING  # a full report without the figure the other is about
    small, big = (fa, fb) if fa.size <= fb.size else (fb, fa)
    if big.events and not small.events and not small.quantities and small.size <= 5:
        p *= _EVENTLESS_PENALTY  # a caption naming places is not a report that X happened
    if ("c:react" in fa.same) != ("c:react" in fb.same):
        p *= _REACT_PENALTY  # a reaction to an event ("X congratulated Y") is not the event
    if fa.bound and fb.bound:
        conflict = _bound_conflict(fa.bound, fb.bound)
        if conflict:
            p *= _EVENT_PENALTY if conflict == 2 else _EVENT_PENALTY_PARTIAL
    if cross:
        if _quote_missing(fa.quote_cross, fb.cross) or _quote_missing(fb.quote_cross, fa.cross):
            p *= _QUOTE_PENALTY
        if (fa.lead_cross and fa.lead_cross.isdisjoint(fb.cross)) or (
            fb.lead_cross and fb.lead_cross.isdisjoint(fa.cross)
        ):
            p *= _LEAD_PENALTY
    else:
        if _quote_missing(fa.quote_same, fb.same) or _quote_missing(fb.quote_same, fa.same):
            p *= _QUOTE_PENALTY
        if (fa.lead_same and fa.lead_same.isdisjoint(fb.same)) or (
            fb.lead_same and fb.lead_same.isdisjoint(fa.same)
        ):
            p *= _LEAD_PENALTY
    return p


def _overlap(
    a: frozenset[str], wa: Mapping[str, float], sa: float,
    b: frozenset[str], wb: Mapping[str, float], sb: float,
) -> float:  # fmt: skip
    """Similarity of two term sets, each weighted in its own IDF frame (so snapshots taken
    at different times stay comparable): the weighted overlap of both, or the containment
    of the smaller set in the larger when enough of its terms are shared."""
    shared = a & b
    if not shared or sa <= 0 or sb <= 0:
        return 0.0
    ma = sum(map(wa.__getitem__, shared))
    mb = sum(map(wb.__getitem__, shared))
    score = (ma + mb) / (sa + sb)
    n = len(shared)
    la, lb = len(a), len(b)
    if n >= 3 or (n >= 2 and n == (la if la < lb else lb)):
        small = ma / sa if la <= lb else mb / sb
        if _CONTAIN_FACTOR * small > score:
            score = _CONTAIN_FACTOR * small
    return score if score < 1.0 else 1.0


def _same_script(a: str, b: str) -> bool:
    return (a == "lat") == (b == "lat")


def similarity(a_title: str, a_text: str, b_title: str, b_text: str) -> float:
    """Similarity of two updates with flat weights (no corpus statistics): a debugging aid
    and a way to reason about the index's scores in tests."""
    fa, fb = extract(a_title, a_text), extract(b_title, b_text)
    cross = not _same_script(fa.lang, fb.lang)
    a, b = (fa.cross, fb.cross) if cross else (fa.same, fb.same)
    ones = dict.fromkeys(a | b, 1.0)
    return _overlap(a, ones, len(a), b, ones, len(b)) * _penalty(fa, fb, cross)


# --------------------------------------------------------------------------- the index

_EVENT_PENALTY = 0.45
_EVENT_PENALTY_PARTIAL = 0.75
_NUMBER_PARTIAL = 0.75
_NUMBER_DISJOINT = 0.35
_QUOTE_PENALTY = 0.6
_REACT_PENALTY = 0.6
_NUMBER_MISSING = 0.8
_LONG = 8  # terms of a report long enough to be expected to carry the key figure
_EVENTLESS_PENALTY = 0.6
_LEAD_PENALTY = 0.75  # one report is attributed to someone the other never mentions
_CONTINUATION_AGE = 30 * 60.0  # "Adding: they …" continues the source's post this recent
_IDF_POWER = 1.5
_CONTAIN_FACTOR = 0.85
_PRIOR_DOCS = 50.0  # pseudo-documents that keep IDF sensible while few updates are indexed
_QUERY_TERMS = 10  # rarest terms of a new update used to look up candidates
_POSTINGS_BUDGET = 32  # postings read at most through them (rare terms cost little)
_QUERY_CROSS = 4  # rarest cross-script terms (name skeletons) added to the lookup
_POSTINGS_CAP = 12  # most recent postings read per rare query term
_POSTINGS_COMMON = 6  # most recent short-update postings read per term
_QUERY_MAX = 10  # terms looked up at most for short updates
_SHORT = 6  # an update of at most this many terms is short (found through any term)
_MAX_CANDIDATES = 6  # candidates from the lookup scored in full
_CANDIDATE_FLOOR = 0.2  # skip candidates whose lookup weight is below this share of the best
_MAX_SHORT = 3  # short updates scored in full
_SHORT_FLOOR = 0.3  # least share of a short update found in this one
_MIN_EXACT_TOKENS = 5
_SAME_SOURCE_MIN = 0.8  # a source's own earlier update: only a near copy joins it
_CROSS_MAX_AGE = 3 * 3600.0
_CROSS_EXTRA = 0.05  # the cross-script route needs threshold + this
_DECAY = 0.15  # score lost linearly over the window
_VOCAB_WEIGHT = 0.3  # weight of a lower-case word outside the lexicon in the cross view


@dataclass(slots=True)
class _Doc:
    """An indexed update."""

    serial: int
    ext: int
    source: str
    published: float
    cluster: int
    f: _Features
    w: dict[str, float]  # IDF snapshot of its terms at indexing time
    wsame: float  # summed weight of the same-script view
    wcross: float  # summed weight of the cross-script view
    keys: tuple[str, ...]  # exact keys
    fwd: str | None  # exact key of the forward origin
    posted: list[str] = field(default_factory=list)  # terms whose postings hold it


@dataclass(slots=True)
class _Match:
    score: float  # after penalties and time decay
    raw: float  # before them
    doc: _Doc


# A plain URL (lower-case host, no port, query or fragment) whose canonical form can be built
# directly; anything else goes through :func:`canonical_url`.
_PLAIN_URL = re.compile(r"https?://(?:www\.)?([a-z0-9-]+(?:\.[a-z0-9-]+)*)\.?(/[^?#\s\x00-\x1f]*)?")


@lru_cache(maxsize=4096)
def _url_key(url: str | None) -> str | None:
    """Exact key for a URL, or None for URLs that identify a site rather than an item."""
    if not url:
        return None
    plain = _PLAIN_URL.fullmatch(url)
    if plain is not None:
        host, path = plain.groups()
        if not path or path == "/":
            return None  # a homepage
        path = path.rstrip("/")
        return f"u:https://{host}{path}" if path else None
    canon = canonical_url(url)
    if not canon:
        return None
    try:
        path = urlsplit(canon).path
    except ValueError:
        return None
    if path in ("", "/") and "?" not in canon:
        return None
    return "u:" + canon


def _symmetric(
    f: _Features, wall: Mapping[str, float], wsame: float, wcross: float, other: _Doc
) -> float:
    """Weighted overlap of two updates counted both ways (no containment route)."""
    if (f.lang == "lat") == (other.f.lang == "lat"):
        a, sa, b, sb = f.same, wsame, other.f.same, other.wsame
    else:
        a, sa, b, sb = f.cross, wcross, other.f.cross, other.wcross
    shared = a & b
    if not shared or sa <= 0 or sb <= 0:
        return 0.0
    wb = other.w
    return (sum(map(wall.__getitem__, shared)) + sum(map(wb.__getitem__, shared))) / (sa + sb)


def _short_keys(f: _Features, w: Mapping[str, float]) -> list[str]:
    """The rarer half of a short update's terms (ties broken by the term itself)."""
    keys = sorted(f.same)
    keys.sort(key=w.__getitem__, reverse=True)
    return keys[: (len(keys) + 2) // 2]


class ClusterIndex:
    """Decides, for each new update, whether it starts a cluster or joins one seen within the
    time window. Memory stays bounded: updates older than the newest one by more than
    window + margin are evicted."""

    def __init__(self, settings: DedupeSettings = DedupeSettings()) -> None:
        self.settings = settings
        self._docs: dict[int, _Doc] = {}  # serial → indexed update
        self._post: dict[str, dict[int, None]] = {}  # term → serials, oldest first
        self._short: dict[str, dict[int, None]] = {}  # the same, for short updates only
        self._exact: dict[str, int] = {}  # exact key → latest serial carrying it
        self._shared_urls: set[str] = set()  # URL keys one source uses for several items
        self._heads: dict[int, int] = {}  # cluster id → serial of its headline
        self._sources: dict[int, dict[str, int]] = {}  # cluster id → source → members
        self._heap: list[tuple[float, int]] = []  # (published, serial) for eviction
        self._wsame: dict[int, float] = {}  # serial → summed term weight (candidate ranking)
        self._latest: dict[str, int] = {}  # source → serial of its latest update
        self._serial = 0
        self._newest = -math.inf

    def __len__(self) -> int:
        return len(self._docs)

    # -- public operations

    def add(self, doc: DedupeDoc, features: _Features | None = None) -> Decision:
        """Decide which cluster ``doc`` belongs to, then index it. ``features`` may be given
        when ``extract(doc.title, doc.text)`` was computed ahead (e.g. in another process)."""
        self._advance(doc.published)
        if doc.published < self._cutoff():
            # Older than what the index keeps (a feed's backlog on a first poll): whatever it
            # could match has been evicted, and it would be itself on the next add.
            return Decision(doc.id, False, 0.0, "new")
        f = features if features is not None else extract(doc.title, doc.text)
        keys = self._exact_keys(doc, f)
        wall, wsame, wcross = self._weights(f)
        decision = self._decide(doc, f, wall, wsame, wcross, keys)
        self._index(doc, f, wall, wsame, wcross, keys, decision.cluster)
        return decision

    def revise(self, doc: DedupeDoc) -> Decision:
        """An indexed update was edited by its source: forget the old text, decide afresh
        (a corrected figure can make a lone report join the story it belongs to)."""
        for serial in [s for s, d in self._docs.items() if d.ext == doc.id]:
            self._evict(serial)
        return self.add(doc)

    def restore(self, doc: DedupeDoc, cluster: int) -> None:
        """Re-index a stored update with its known cluster (replay after a restart)."""
        f = extract(doc.title, doc.text)
        self._advance(doc.published)
        if doc.published < self._cutoff():
            return
        wall, wsame, wcross = self._weights(f)
        self._index(doc, f, wall, wsame, wcross, self._exact_keys(doc, f), cluster)

    # -- decision

    def _decide(
        self, doc: DedupeDoc, f: _Features, wall: dict[str, float], wsame: float,
        wcross: float, keys: tuple[str, ...],
    ) -> Decision:  # fmt: skip
        hit = self._exact_hit(doc, keys)
        if hit is not None:
            return hit
        if not self.settings.enabled:
            return Decision(doc.id, False, 0.0, "new")
        if f.anaphoric:
            hit = self._continuation(doc, f)
            if hit is not None:
                return hit
        ranked = self._score_candidates(doc, f, wall, wsame, wcross)
        best = 0.0
        threshold = self.settings.threshold
        for match in ranked:
            score = match.score
            if score > best:
                best = score
            if score < threshold:
                break
            sources = self._sources.get(match.doc.cluster)
            # A source rarely repeats itself: its follow-ups are new facts. It joins its own
            # cluster only with a near copy, judged both ways (containment does not count).
            if (sources and doc.source in sources) and (
                f.followup
                or _symmetric(f, wall, wsame, wcross, match.doc) * match.score / match.raw
                < max(threshold, _SAME_SOURCE_MIN)
            ):
                continue
            if self._chain_conflict(f, match.doc):
                continue
            return Decision(match.doc.cluster, True, round(score, 4), "near")
        return Decision(doc.id, False, round(best, 4), "new")

    def _continuation(self, doc: DedupeDoc, f: _Features) -> Decision | None:
        """A follow-up that refers back with a pronoun ("Adding: they lasted 1 hour") goes on
        about the source's previous post: join that post's cluster unless they conflict."""
        serial = self._latest.get(doc.source)
        prev = self._docs.get(serial) if serial is not None else None
        if prev is None or not 0 <= doc.published - prev.published <= _CONTINUATION_AGE:
            return None
        if _penalty(f, prev.f, False) < 0.5 or self._chain_conflict(f, prev):
            return None
        return Decision(prev.cluster, True, self.settings.threshold, "near")

    def _chain_conflict(self, f: _Features, matched: _Doc) -> bool:
        """Refuse a cluster whose headline contradicts the new update (stops A→B→C drift)."""
        head_serial = self._heads.get(matched.cluster)
        if head_serial is None or head_serial == matched.serial:
            return False
        head = self._docs.get(head_serial)
        if head is None:
            return False
        return _penalty(f, head.f, not _same_script(f.lang, head.f.lang)) < 0.5

    def _exact_keys(self, doc: DedupeDoc, f: _Features) -> tuple[str, ...]:
        keys: list[str] = []
        fwd = _url_key(doc.forwarded_url)
        if fwd:
            keys.append(fwd)
        own = _url_key(doc.url)
        if own and own != fwd:
            keys.append(own)
        if len(f.exact_seq) >= _MIN_EXACT_TOKENS:
            keys.append(f"h:{hash(f.exact_seq):x}")
        return tuple(keys)

    def _exact_hit(self, doc: DedupeDoc, keys: tuple[str, ...]) -> Decision | None:
        fwd = _url_key(doc.forwarded_url)
        for key in keys:
            serial = self._exact.get(key)
            other = self._docs.get(serial) if serial is not None else None
            if other is None or abs(other.published - doc.published) > self.settings.window:
                continue
            if key.startswith("u:") and (key in self._shared_urls or other.source == doc.source):
                continue  # a live blog or section page, not one item
            if key.startswith("h:"):
                reason = "exact-text"
            elif key in (fwd, other.fwd):
                reason = "forward"
            else:
                reason = "exact-url"
            return Decision(other.cluster, True, 1.0, reason)
        return None

    # -- near layer

    def _weights(self, f: _Features) -> tuple[dict[str, float], float, float]:
        """Current IDF of every term of an update (computed once per update), and the summed
        weights of its same-script and cross-script views."""
        top = len(self._docs) + _PRIOR_DOCS
        posts = self._post  # a term's postings hold every indexed update carrying it
        log = math.log
        memo: dict[int, float] = {}
        out: dict[str, float] = {}
        wsame = wcross = 0.0
        for k in f.same:
            plist = posts.get(k)
            d = len(plist) if plist else 0
            w = memo.get(d)
            if w is None:
                w = memo[d] = log(top / (d + 1.0)) ** _IDF_POWER
            out[k] = w
            wsame += w
        vocab = log(top) ** _IDF_POWER * _VOCAB_WEIGHT
        for k in f.cross:
            w = out.get(k)
            if w is None:
                if k[0] == "y":  # untranslated vocabulary: a fixed small weight, no statistics
                    w = vocab
                else:
                    plist = posts.get(k)
                    d = len(plist) if plist else 0
                    w = memo.get(d)
                    if w is None:
                        w = memo[d] = log(top / (d + 1.0)) ** _IDF_POWER
                out[k] = w
            wcross += w
        return out, wsame, wcross

    def _score_candidates(
        self, doc: DedupeDoc, f: _Features, wall: dict[str, float], wsame: float,
        wcross: float,
    ) -> list[_Match]:  # fmt: skip
        """Best match per cluster, best first, from a bounded candidate set."""
        posts = self._post
        cross_on = self.settings.cross_language
        # Lookup: the rarest terms that some indexed update shares (ties broken by the term
        # itself so that results never depend on hash order) read the latest postings; all
        # other terms read only the postings of short updates, which finds a short flash
        # ("Talks in Istanbul are over") made of common words only.
        terms = sorted(f.same & posts.keys())
        terms.sort(key=wall.__getitem__, reverse=True)  # stable: ties stay in term order
        acc: dict[int, float] = {}
        get = acc.get
        budget = _POSTINGS_BUDGET
        for t in terms[:_QUERY_TERMS]:
            weight = wall[t]
            plist = posts[t]
            if len(plist) == 1:
                for serial in plist:
                    acc[serial] = get(serial, 0.0) + weight
                budget -= 1
                continue
            for serial in islice(reversed(plist), _POSTINGS_CAP):
                acc[serial] = get(serial, 0.0) + weight
            budget -= len(plist)
            if budget <= 0:
                break
        if cross_on:
            names = sorted(t for t in f.cross & posts.keys() if t[0] == "x")
            if names:
                names.sort(key=wall.__getitem__, reverse=True)
                for t in names[:_QUERY_CROSS]:
                    weight = wall[t]
                    for serial in islice(reversed(posts[t]), _POSTINGS_CAP):
                        acc[serial] = get(serial, 0.0) + weight
        short: dict[int, float] = {}
        sget = short.get
        shorts = self._short
        for t in terms[:_QUERY_MAX]:
            plist = shorts.get(t)
            if plist:
                weight = wall[t]
                for serial in islice(reversed(plist), _POSTINGS_COMMON):
                    short[serial] = sget(serial, 0.0) + weight
        if not acc and not short:
            return []
        # Candidates: the best lookups, and the short updates most contained in this one.
        top: list[int] = []
        if acc:
            floor = max(acc.values()) * _CANDIDATE_FLOOR  # far weaker lookups cannot pass
            top = [s for s, a in acc.items() if a >= floor]
            if len(top) > _MAX_CANDIDATES:
                top.sort(key=acc.__getitem__, reverse=True)
                del top[_MAX_CANDIDATES:]
        if short:
            sizes = self._wsame
            for s, a in short.items():
                short[s] = a / sizes[s]
            seen = set(top)
            ranked = sorted(short, key=short.__getitem__, reverse=True)[:_MAX_SHORT]
            top += [s for s in ranked if short[s] >= _SHORT_FLOOR and s not in seen]
        window = self.settings.window
        threshold = self.settings.threshold
        docs = self._docs
        latin = f.lang == "lat"
        best: dict[int, _Match] = {}
        for serial in top:
            other = docs[serial]
            dt = abs(other.published - doc.published)
            if dt > window:
                continue
            of = other.f
            if latin == (of.lang == "lat"):
                cross = False
                score = _overlap(f.same, wall, wsame, of.same, other.w, other.wsame)
                if f.lang != of.lang and cross_on:  # Russian vs Ukrainian
                    alt = _overlap(f.cross, wall, wcross, of.cross, other.w, other.wcross)
                    if alt > score:
                        score, cross = alt, True
            elif cross_on and dt <= _CROSS_MAX_AGE:
                cross = True
                score = _overlap(f.cross, wall, wcross, of.cross, other.w, other.wcross)
                score -= _CROSS_EXTRA
            else:
                continue
            if score <= 0.0:
                continue
            raw = score
            score *= 1.0 - _DECAY * dt / window
            if score >= threshold:  # penalties only lower a score: skip them when it fails
                score *= _penalty(f, of, cross)
            prev = best.get(other.cluster)
            if prev is None or score > prev.score:
                best[other.cluster] = _Match(score, raw, other)
        return sorted(best.values(), key=lambda m: m.score, reverse=True)

    # -- bookkeeping

    def _index(
        self, doc: DedupeDoc, f: _Features, wall: dict[str, float], wsame: float,
        wcross: float, keys: tuple[str, ...], cluster: int,
    ) -> None:  # fmt: skip
        self._serial += 1
        serial = self._serial
        d = _Doc(serial, doc.id, doc.source, doc.published, cluster, f, wall, wsame, wcross,
                 keys, _url_key(doc.forwarded_url))  # fmt: skip
        self._docs[serial] = d
        self._wsame[serial] = max(wsame, 1e-9)
        post = self._post
        # Lower-case vocabulary of the cross view ("y:") is weighed, never looked up.
        d.posted = posted = [t for t in wall if t[0] != "y"]
        for t in posted:
            plist = post.get(t)
            if plist is None:
                post[t] = {serial: None}
            else:
                plist[serial] = None
        if f.size <= _SHORT:
            # A short update posts only its rarer half: an update containing most of it
            # contains one of those (prefix filtering), and the lists stay short.
            short = self._short
            for t in _short_keys(f, wall):
                plist = short.get(t)
                if plist is None:
                    short[t] = {serial: None}
                else:
                    plist[serial] = None
        for key in keys:
            held = self._docs.get(self._exact.get(key, 0))
            if key.startswith("u:") and held and held.source == doc.source and held.f != f:
                self._shared_urls.add(key)
            self._exact[key] = serial
        head = self._heads.get(cluster)
        if head is None or (doc.id == cluster and self._docs[head].ext != cluster):
            self._heads[cluster] = serial
        sources = self._sources.setdefault(cluster, {})
        sources[doc.source] = sources.get(doc.source, 0) + 1
        latest = self._docs.get(self._latest.get(doc.source, 0))
        if latest is None or latest.published <= doc.published:
            self._latest[doc.source] = serial
        heapq.heappush(self._heap, (doc.published, serial))

    def _cutoff(self) -> float:
        return self._newest - self.settings.retention


    def _advance(self, published: float) -> None:
        """Move the clock to ``published`` (if newer) and evict what fell out of retention."""
        if published > self._newest:
            self._newest = published
        cutoff = self._cutoff()
        heap = self._heap
        while heap and heap[0][0] < cutoff:
            _, serial = heapq.heappop(heap)
            self._evict(serial)

    def _evict(self, serial: int) -> None:
        d = self._docs.pop(serial, None)
        if d is None:
            return
        del self._wsame[serial]
        post = self._post
        if d.f.size <= _SHORT:
            short = self._short
            for t in _short_keys(d.f, d.w):
                plist = short.get(t)
                if plist is not None:
                    plist.pop(serial, None)
                    if not plist:
                        del short[t]
        for t in d.posted:
            plist = post[t]
            del plist[serial]
            if not plist:
                del post[t]
        for key in d.keys:
            if self._exact.get(key) == serial:
                del self._exact[key]
                self._shared_urls.discard(key)
        if self._heads.get(d.cluster) == serial:
            del self._heads[d.cluster]
        if self._latest.get(d.source) == serial:
            del self._latest[d.source]
        sources = self._sources.get(d.cluster)
        if sources is not None:
            left = sources.get(d.source, 0) - 1
            if left > 0:
                sources[d.source] = left
            else:
                sources.pop(d.source, None)
                if not sources:
                    del self._sources[d.cluster]


# --------------------------------------------------------------------------- batch helpers


def _to_unix(value: Any) -> float | None:
    """ISO 8601 string (naive means UTC) or unix number → unix seconds; None if unusable."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, datetime):
        dt = value
    else:
        try:
            dt = datetime.fromisoformat(str(value).strip())
        except ValueError:
            try:
                return float(value)
            except ValueError:
                return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def cluster_records(
    records: Iterable[Mapping[str, Any]], settings: DedupeSettings = DedupeSettings()
) -> list[tuple[Any, Any]]:
    """Cluster plain records (id, source, published, title, text, url[, forwarded_url]) in
    published-time order; returns (id, cluster id) pairs in input order, where the cluster
    id is the id of the cluster's headline record. A record without a usable time takes the
    time of the record before it in the input."""
    rows = list(records)
    times: list[float] = []
    last = 0.0
    for r in rows:
        t = _to_unix(r.get("published"))
        last = last if t is None else t
        times.append(last)
    index = ClusterIndex(settings)
    assigned: list[int] = [0] * len(rows)
    for i in sorted(range(len(rows)), key=lambda k: times[k]):
        r = rows[i]
        doc = DedupeDoc(
            id=i, source=str(r.get("source") or ""), published=times[i],
            title=str(r.get("title") or ""), text=str(r.get("text") or ""),
            url=r.get("url") or None, forwarded_url=r.get("forwarded_url") or None,
        )  # fmt: skip
        assigned[i] = index.add(doc).cluster
    return [(r.get("id"), rows[assigned[i]].get("id")) for i, r in enumerate(rows)]


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def pairwise_scores(truth: Sequence[Any], predicted: Sequence[Any]) -> tuple[float, float, float]:
    """Pairwise (precision, recall, F1) of a clustering against gold labels, item by item.
    With no predicted (or gold) pairs the corresponding figure is 1.0."""
    if len(truth) != len(predicted):
        raise ValueError("truth and predicted differ in length")
    cells: dict[tuple[Any, Any], int] = {}
    gold: dict[Any, int] = {}
    pred: dict[Any, int] = {}
    for t, p in zip(truth, predicted, strict=True):
        cells[t, p] = cells.get((t, p), 0) + 1
        gold[t] = gold.get(t, 0) + 1
        pred[p] = pred.get(p, 0) + 1
    tp = sum(_pairs(c) for c in cells.values())
    pp = sum(_pairs(c) for c in pred.values())
    gp = sum(_pairs(c) for c in gold.values())
    precision = tp / pp if pp else 1.0
    recall = tp / gp if gp else 1.0
    return precision, recall, _f1(precision, recall)


def bcubed_scores(truth: Sequence[Any], predicted: Sequence[Any]) -> tuple[float, float, float]:
    """B-cubed (precision, recall, F1): per-item overlap of its predicted and gold clusters,
    averaged over items."""
    if len(truth) != len(predicted):
        raise ValueError("truth and predicted differ in length")
    if not truth:
        return 1.0, 1.0, 1.0
    cells: dict[tuple[Any, Any], int] = {}
    gold: dict[Any, int] = {}
    pred: dict[Any, int] = {}
    for t, p in zip(truth, predicted, strict=True):
        cells[t, p] = cells.get((t, p), 0) + 1
        gold[t] = gold.get(t, 0) + 1
        pred[p] = pred.get(p, 0) + 1
    n = len(truth)
    precision = sum(cells[t, p] / pred[p] for t, p in zip(truth, predicted, strict=True)) / n
    recall = sum(cells[t, p] / gold[t] for t, p in zip(truth, predicted, strict=True)) / n
    return precision, recall, _f1(precision, recall)


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0
