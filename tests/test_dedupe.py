"""Near-duplicate clustering: exact keys, near copies, hard negatives, window, restore."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedwatch import dedupe
from feedwatch.dedupe import (
    ClusterIndex,
    DedupeDoc,
    DedupeSettings,
    bcubed_scores,
    cluster_records,
    normalize,
    pairwise_scores,
)
from feedwatch.textutil import canonical_url

DATA = Path(__file__).parent / "data"
DEV_SET = DATA / "dedupe_dev.jsonl"  # the labelled dev set the clustering was tuned on
DEMO_SET = DATA / "dedupe_demo.jsonl"  # the demo story's items grouped into events
CHECK_SET = DATA / "dedupe_check.jsonl"  # other stories; lexicon gaps were fixed after it
HOLDOUT_SET = DATA / "dedupe_holdout.jsonl"  # other stories, never tuned on
T0 = 1_748_858_400.0  # 2025-06-02 13:00 Istanbul time


def doc(i: int, text: str, *, title: str = "", minutes: float = 0.0, source: str = "",
        url: str | None = None, fwd: str | None = None) -> DedupeDoc:  # fmt: skip
    return DedupeDoc(
        id=i, source=source or f"src{i}", published=T0 + minutes * 60, title=title, text=text,
        url=url, forwarded_url=fwd,
    )  # fmt: skip


def clusters(*docs: DedupeDoc, settings: DedupeSettings | None = None) -> list[int]:
    index = ClusterIndex(settings or DedupeSettings())
    return [index.add(d).cluster for d in docs]


# -- normalize


def test_normalize_strips_markers_tags_and_unifies_numbers() -> None:
    text = "⚡️ BREAKING: Talks end (Reuters) — 6,000 for 6 000 bodies https://t.me/x/1 via @chan"
    assert normalize(text) == ["talks", "end", "6000", "for", "6000", "bodies"]
    assert normalize("More: magnitude 6.10, 1,5 млн, 6000") == ["magnitude", "6.1", "1500000",
                                                                "6000"]  # fmt: skip
    assert normalize("❗️Срочно: Переговоры ЗАВЕРШИЛИСЬ") == ["переговоры", "завершились"]
    assert normalize("Talks over.\n\nSubscribe to our channel @news") == ["talks", "over"]
    # Case forms of number words scale too; "через" (because of) is a word, not "via".
    assert normalize("30 тисячам абонентів через негоду") == ["30000", "абонентів", "через",
                                                               "негоду"]  # fmt: skip
    assert normalize("Отключения через @chan") == ["отключения"]


def _slow_url_key(url: str) -> str | None:
    """The URL key computed the long way (canonical_url, then the homepage rule)."""
    canon = canonical_url(url)
    if not canon:
        return None
    try:
        path = urlsplit(canon).path
    except ValueError:
        return None
    return None if path in ("", "/") and "?" not in canon else "u:" + canon


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["http://", "https://", "HTTPS://", "https://www.", ""]),
    st.text(alphabet="abz09-.", max_size=8),
    st.sampled_from(["", ".", ":80", ":8443"]),
    st.text(alphabet="aZ9-_.~%/:@?#=& \tп", max_size=12),
)
def test_url_key_fast_path_agrees_with_canonical_url(
    scheme: str, host: str, port: str, rest: str
) -> None:
    url = scheme + host + port + rest
    dedupe._url_key.cache_clear()
    assert dedupe._url_key(url) == _slow_url_key(url)


# -- exact layer


def test_same_url_with_tracking_params_joins() -> None:
    a = doc(1, "Some text about one thing", url="https://ex.org/world/story-1?utm_source=x")
    b = doc(2, "Entirely different words here", minutes=5, url="https://www.ex.org/world/story-1")
    index = ClusterIndex()
    index.add(a)
    decision = index.add(b)
    assert (decision.cluster, decision.joined, decision.reason) == (1, True, "exact-url")


def test_homepage_and_live_blog_urls_do_not_glue() -> None:
    home = "https://radio.example/"
    blog = "https://live.example/2025-06-02-istanbul#entry-"
    got = clusters(
        doc(1, "Storm halts loading at the port", url=home, source="radio"),
        doc(2, "Inflation in the euro area slowed in May", url=home, minutes=3, source="radio"),
        doc(3, "Talks delayed by an hour", url=blog + "1", source="blog"),
        doc(4, "Axios memorandum four regions", url=blog + "2", minutes=9, source="blog"),
        doc(5, "Quake hits the coast overnight", url=blog + "3", minutes=12, source="aggr"),
    )
    assert got == [1, 2, 3, 4, 5]


def test_forward_joins_origin_both_ways() -> None:
    origin = "https://t.me/src/5512"
    got = clusters(
        doc(1, "Umerov first went to meet Fidan", url=origin),
        doc(2, "Completely reworded forward text", url="https://t.me/b/9", fwd=origin, minutes=2),
        doc(3, "Another forward of the same post", url="https://t.me/c/7", fwd=origin, minutes=4),
    )
    assert got == [1, 1, 1]
    index = ClusterIndex()
    index.add(doc(1, "Forwarded copy first", url="https://t.me/b/9", fwd=origin))
    decision = index.add(doc(2, "The origin arrives later", url=origin, minutes=1))
    assert (decision.cluster, decision.reason) == (1, "forward")


def test_identical_text_from_two_sources_joins() -> None:
    text = "❗️Talks in Istanbul are over. They lasted 1 hour 15 minutes."
    index = ClusterIndex()
    index.add(doc(1, text, url="https://t.me/a/1"))
    decision = index.add(doc(2, "Talks in Istanbul are over — they lasted 1 hour 15 minutes",
                             url="https://t.me/b/2", minutes=1))  # fmt: skip
    assert (decision.cluster, decision.score, decision.reason) == (1, 1.0, "exact-text")


# -- near layer

END_WIRE = (
    "Russia-Ukraine talks in Istanbul end after about 75 minutes",
    "The second round of direct negotiations between Russia and Ukraine in Istanbul ended on "
    "Monday after 1 hour and 15 minutes, a Ukrainian source said.",
)


def test_reworded_copies_join() -> None:
    got = clusters(
        doc(1, END_WIRE[1], title=END_WIRE[0]),
        doc(2, "The talks in Istanbul have finished. The meeting lasted 1 hour and 15 minutes, "
               "a source in the Ukrainian delegation said.", title="Talks over", minutes=6),
    )  # fmt: skip
    assert got == [1, 1]


def test_truncated_and_marker_copies_join() -> None:
    wire = ("Ukraine and Russia agreed in Istanbul to exchange the bodies of 6,000 killed "
            "soldiers each, Ukrainian Defence Minister Rustem Umerov told reporters after the "
            "meeting. — Northwire")  # fmt: skip
    got = clusters(
        doc(1, wire, title="Ukraine, Russia agree to hand over 6,000 bodies each, Umerov says"),
        doc(2, "⚡️Umerov: the sides agreed to exchange the bodies of the fallen, 6000 for 6000.",
            minutes=4),
        doc(3, wire[:90] + "…", title="Umerov: bodies deal", minutes=9),
        doc(4, "More: Umerov says 6 000 bodies will be handed over by each side", minutes=12),
    )
    assert got == [1, 1, 1, 1]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("❗️The Istanbul talks have started at the Ciragan Palace.",
         "❗️The Istanbul talks have ended at the Ciragan Palace."),
        ("Talks in Istanbul delayed by 1 hour, Ukrainian delegation says",
         "Talks in Istanbul lasted 1 hour 15 minutes, Ukrainian delegation says"),
        ("Umerov: Russia and Ukraine agreed to exchange 1,000 prisoners of war",
         "Umerov: Russia and Ukraine agreed to exchange 6,000 bodies of the dead"),
        ("Earthquake of magnitude 6.1 strikes off Marmaris, AFAD says",
         "Aftershock of magnitude 4.8 strikes off Marmaris, AFAD says"),
        ("Poland: with 50% of votes counted Nawrocki leads with 51.2%",
         "Poland: with 90% of votes counted Nawrocki leads with 50.7%"),
        ("Zelensky: Umerov is preparing for the Istanbul meeting, ceasefire is the priority",
         "Zelensky: Ukraine needs funding for its own arms production from European partners"),
        ("Storm warning issued for Odesa region, gusts up to 25 m/s",
         "Storm warning lifted for Odesa region after gusts up to 25 m/s"),
        ("Переговоры в Стамбуле начались во дворце Чыраган",
         "Переговоры в Стамбуле завершились во дворце Чыраган"),
        # The demo's wrong merges: "the meeting ended, talks to start soon" is not "the
        # talks ended" (subject and tense of the event differ), in either language.
        ("Встреча Умерова с министром иностранных дел Турции завершилась. Переговоры должны "
         "начаться в ближайшее время.", "❗️ Переговоры в Стамбуле завершились."),
        ("⚡️ Umerov's meeting with the Turkish FM has ended. Talks expected to start shortly.",
         "❗️ Talks in Istanbul are over."),
        ("Umerov–Fidan meeting over, talks to begin shortly",
         "❗️ The talks in Istanbul have begun."),
        # A quoted verdict is the news: "talks ended 'not negatively'" is another report.
        ("❗️ Talks in Istanbul are over.", 'Turkish MFA: the talks ended "not negatively".'),
        ("Переговоры в Стамбуле завершились.",
         "МИД Турции: переговоры завершились «не негативно»."),
        # A reaction to an event is not the event.
        ("Nawrocki wins Poland's presidential election with 50.89% of the vote",
         "Zelensky congratulated Karol Nawrocki on winning the Polish presidential election"),
        # Numbers of the same kind differ; "an hour and twenty minutes" is 80 minutes.
        ("Kharkiv strike: 2 killed, 11 wounded, governor says",
         "Kharkiv strike death toll rises to 4, governor says; 17 wounded"),
        ("Talks delayed by more than an hour and twenty minutes",
         "Talks delayed by more than 40 minutes"),
        # A caption naming a place is not a report that something happened there.
        ("📷 Çırağan Palace, Istanbul, right now",
         "⚡️The Russia–Ukraine talks in Istanbul have started at the Çırağan Palace."),
        ("Air raid alert declared in Kyiv.", "Air raid alert in Kyiv lifted."),
    ],
)
def test_hard_negatives_stay_apart(first: str, second: str) -> None:
    assert clusters(doc(1, first), doc(2, second, minutes=20)) == [1, 2]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("❗️ Talks in Istanbul are over.", "❗️ Переговоры в Стамбуле завершились."),
        ("The talks in Istanbul have begun.", "Переговори у Стамбулі розпочалися."),
        ("Air raid alert declared in Kyiv.", "У Києві оголошено повітряну тривогу."),
        ("NBU keeps key rate at 15.5%.", "НБУ зберіг облікову ставку на рівні 15,5%."),
        ("Umerov: the sides agreed to exchange the bodies of the dead, 6,000 for 6,000.",
         "Умеров: стороны договорились обменяться телами погибших — 6 тысяч на 6 тысяч."),
    ],
)
def test_cross_language_copies_join(first: str, second: str) -> None:
    """Russian and Ukrainian copies join English ones through concepts, names and numbers,
    with no shared spelling."""
    assert clusters(doc(1, first), doc(2, second, minutes=3)) == [1, 1]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Istanbul talks delayed by more than 1 h 20 min.",
         "The start of the talks was delayed by more than 80 minutes, reporters said."),
        ("Talks were running more than an hour and twenty minutes late.",
         "❗️ Istanbul talks delayed by more than 1 h 20 min."),
        ("Turkey quake: 1 dead, 69 injured — interior minister",
         "One dead, 69 hurt after the quake in Turkey, the interior minister said"),
        ("The talks in Istanbul have finished, they lasted an hour and 15 minutes.",
         "Istanbul talks end after 75 minutes"),
    ],
)
def test_numbers_in_words_and_durations_agree(first: str, second: str) -> None:
    assert clusters(doc(1, first), doc(2, second, minutes=4)) == [1, 1]


def test_same_source_needs_a_near_copy() -> None:
    """A channel rarely repeats itself: its later post joins its own cluster only as a near
    copy, and a "More:" follow-up with facts of its own never does."""
    index = ClusterIndex()
    assert index.add(doc(1, "❗️ Переговоры в Стамбуле завершились.", source="srochno")).cluster == 1
    assert index.add(doc(2, "❗️ Talks in Istanbul are over.", source="flash", minutes=1)).joined
    repeat = index.add(doc(3, "Переговоры в Стамбуле завершились!", source="srochno", minutes=2))
    assert (repeat.cluster, repeat.joined) == (1, True)  # its own near copy
    own = index.add(doc(4, "Переговоры в Стамбуле завершились, делегации покинули дворец.",
                        source="srochno", minutes=5))  # fmt: skip
    assert not own.joined  # would join as another source's report (see below)
    more = index.add(doc(5, "More: talks in Istanbul are over, delegations have left the palace.",
                         source="flash", minutes=6))  # fmt: skip
    assert more.cluster == 4  # the other channel's report of that fact, not flash's own post
    other = ClusterIndex()
    other.add(doc(1, "❗️ Переговоры в Стамбуле завершились.", source="srochno"))
    assert other.add(doc(4, "Переговоры в Стамбуле завершились, делегации покинули дворец.",
                         source="vesti", minutes=5)).joined  # fmt: skip
    follow = "More: talks in Istanbul are over, Turkish diplomats confirm."
    for source, joins in (("flash", False), ("wire", True)):
        index = ClusterIndex()
        index.add(doc(1, "❗️ Talks in Istanbul are over.", source="flash"))
        assert index.add(doc(2, follow, source=source, minutes=3)).joined is joins


def test_pronoun_follow_up_continues_the_sources_previous_post() -> None:
    """"Adding: they lasted 1 hour 15 minutes" goes on about the channel's previous post."""
    got = clusters(
        doc(1, "❗️ Talks in Istanbul are over.", source="flash"),
        doc(2, "❗️ Переговоры в Стамбуле завершились.", source="srochno"),
        doc(3, "Adding: they lasted 1 hour and 15 minutes.", source="flash", minutes=1),
        doc(4, "Adding: they lasted two days.", source="other", minutes=2),  # no own post
        doc(5, "Adding: it will take weeks.", source="flash", minutes=60),  # too late
    )
    assert got == [1, 1, 1, 4, 5]


def test_window_expiry_starts_a_new_cluster() -> None:
    text = "Magnitude 6.1 earthquake strikes off Marmaris, felt in Rhodes and Izmir"
    settings = DedupeSettings(window=6 * 3600)
    got = clusters(doc(1, text), doc(2, text + ".", minutes=7 * 60), settings=settings)
    assert got == [1, 2]
    assert clusters(doc(1, text), doc(2, text + ".", minutes=5 * 60)) == [1, 1]


def test_eviction_keeps_memory_bounded_and_late_arrivals_work() -> None:
    index = ClusterIndex(DedupeSettings(window=3600, margin=600))
    for i in range(200):
        index.add(doc(i + 1, f"unrelated item number {i} about topic{i}", minutes=i * 10))
    assert len(index) <= 1 + (3600 + 600) // 600
    late = index.add(doc(999, "unrelated item number 198 about topic198", minutes=198 * 10 - 30))
    assert late.joined
    # a backlog item older than the index keeps (a first poll of a slow feed) is not indexed:
    # what it could match is gone, and it would be evicted at once
    size = len(index)
    old = index.add(doc(1000, "unrelated item number 5 about topic5", minutes=5 * 10))
    assert (old.cluster, old.joined) == (1000, False)
    assert len(index) == size


def test_restore_then_add_joins_restored_cluster() -> None:
    first = ClusterIndex()
    a = doc(7, END_WIRE[1], title=END_WIRE[0], url="https://ex.org/world/talks-end")
    b = doc(9, "Istanbul talks over after 1 hour 15 minutes, Ukrainian source says", minutes=3)
    assert first.add(a).cluster == 7 and first.add(b).cluster == 7
    restarted = ClusterIndex()
    restarted.restore(a, 7)
    restarted.restore(b, 7)
    assert len(restarted) == 2
    decision = restarted.add(doc(11, "❗️Talks in Istanbul ended. They lasted 1 hour 15 minutes.",
                                 minutes=8))  # fmt: skip
    assert (decision.cluster, decision.joined) == (7, True)
    again = restarted.add(doc(12, "other words", url="https://ex.org/world/talks-end?utm_x=1",
                              minutes=9))  # fmt: skip
    assert (again.cluster, again.reason) == (7, "exact-url")


def test_disabled_keeps_near_apart_but_exact_together() -> None:
    settings = DedupeSettings(enabled=False)
    text = "Talks in Istanbul are over. They lasted 1 hour 15 minutes."
    got = clusters(
        doc(1, END_WIRE[1], title=END_WIRE[0], url="https://ex.org/a/end"),
        doc(2, "The talks in Istanbul have finished after 1 hour and 15 minutes", minutes=2),
        doc(3, "Copied by an aggregator", url="https://ex.org/a/end?utm_source=agg", minutes=3),
        doc(4, text, minutes=4),
        doc(5, "❗️" + text, minutes=5),
        doc(6, "forward", url="https://t.me/b/1", fwd="https://t.me/a/1", minutes=6),
        doc(7, "forward again", url="https://t.me/c/1", fwd="https://t.me/a/1", minutes=7),
        settings=settings,
    )
    assert got == [1, 2, 1, 4, 4, 6, 6]


# -- batch helper and metrics


def test_cluster_records_string_ids_input_order() -> None:
    records = [
        {"id": "b", "source": "x", "published": "2025-06-02T15:40:00+03:00", "title": "",
         "text": "Talks in Istanbul are over, they lasted 1 hour 15 minutes", "url": None},
        {"id": "a", "source": "y", "published": "2025-06-02T15:36:00+03:00", "title": "",
         "text": "❗️Talks in Istanbul are over. They lasted 1 hour 15 minutes.", "url": None},
        {"id": "c", "source": "z", "published": 1748871000, "title": "Storm",
         "text": "Storm warning for Odesa region", "url": "https://ex.org/storm"},
    ]  # fmt: skip
    assert cluster_records(records) == [("b", "a"), ("a", "a"), ("c", "c")]


def test_pairwise_and_bcubed_scores() -> None:
    gold = ["x", "x", "x", "y", "y"]
    pred = [1, 1, 2, 3, 3]
    p, r, f = pairwise_scores(gold, pred)
    assert (p, r) == (1.0, 0.5) and f == pytest.approx(2 / 3)
    assert pairwise_scores(["a", "b"], [1, 2]) == (1.0, 1.0, 1.0)
    assert pairwise_scores(["a", "a"], [1, 1])[:2] == (1.0, 1.0)
    bp, br, _ = bcubed_scores(gold, pred)
    assert bp == 1.0 and br == pytest.approx((2 / 3 * 2 + 1 / 3 + 1 + 1) / 5)
    merged = bcubed_scores(["a", "b"], [1, 1])
    assert merged[0] == 0.5 and merged[1] == 1.0


def _scores(path: Path, **kw: object) -> tuple[float, float, float]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    predicted = [cluster for _, cluster in cluster_records(rows, DedupeSettings(**kw))]
    return pairwise_scores([r["event"] for r in rows], predicted)


def test_dev_set_precision_and_recall_targets() -> None:
    rows = DEV_SET.read_text(encoding="utf-8").splitlines()
    assert len(rows) >= 150 and len({json.loads(r)["event"] for r in rows}) >= 30
    precision, recall, _ = _scores(DEV_SET)
    assert precision >= 0.95
    assert recall >= 0.90


def test_demo_story_precision_and_recall() -> None:
    precision, recall, _ = _scores(DEMO_SET)
    assert precision >= 0.95
    assert recall >= 0.90


@pytest.mark.parametrize(("path", "p_min", "r_min"), [(CHECK_SET, 0.95, 0.90),
                                                      (HOLDOUT_SET, 0.80, 0.90)])  # fmt: skip
def test_other_stories_regression_floor(path: Path, p_min: float, r_min: float) -> None:
    """Stories the dev set does not cover (floods, rates, alerts, votes, trains). The hold-out
    set was never tuned on; its known miss: a Zelensky–Erdogan call merged with a
    Putin–Erdogan call (same activity, different participants)."""
    precision, recall, _ = _scores(path)
    assert precision >= p_min
    assert recall >= r_min


def test_cross_language_switch_keeps_scripts_apart() -> None:
    precision, recall, _ = _scores(DEMO_SET, cross_language=False)
    assert precision >= 0.95 and recall < 0.8  # same-script copies only


async def test_an_edit_that_corrects_a_figure_moves_a_lone_report_into_its_story(
        tmp_path: Path, site: object) -> None:
    """A channel posts "5,000 bodies" (kept apart from the "6,000" story: numbers conflict),
    then edits it to 6,000: the lone report joins the story, the store's counts follow, and
    the event says so (JOINED, so views fold the row into the story)."""
    from conftest import Site

    from feedwatch.config import load_topic
    from feedwatch.engine import Engine
    from feedwatch.model import EventKind
    from feedwatch.store import Store

    assert isinstance(site, Site)

    def rss(title: str, guid: str, minute: int) -> str:
        return (f'<rss version="2.0"><channel><title>c</title><item><title>{title}</title>'
                f"<guid>{guid}</guid><pubDate>Mon, 02 Jun 2025 13:{minute:02d}:00 +0000"
                "</pubDate></item></channel></rss>")

    site.put("/wire.xml", rss("Ukraine and Russia agree to exchange 6,000 bodies of fallen "
                              "soldiers, Medinsky says after the Istanbul talks", "w1", 10))
    channel = "Russia will hand over {} bodies of fallen Ukrainian soldiers, Medinsky says " \
              "after Istanbul talks"
    site.put("/channel.xml", rss(channel.format("5,000"), "c1", 12))
    cfg = tmp_path / "t.toml"
    cfg.write_text(f'[topic]\nname = "t"\n[[source]]\nname = "Wire"\nurl = "'
                   f'{site.url("/wire.xml")}"\n[[source]]\nname = "Channel"\nurl = "'
                   f'{site.url("/channel.xml")}"\n', encoding="utf-8")
    topic = load_topic(cfg)
    wire, chan = topic.sources
    with Store(tmp_path / "fw.db") as store:
        async with Engine(topic, store) as engine:
            (first,) = (await engine.poll_source(wire)).events
            (lone,) = (await engine.poll_source(chan)).events
            assert lone.kind is EventKind.NEW and lone.update.cluster != first.update.cluster
            site.put("/channel.xml", rss(channel.format("6,000"), "c1", 12))
            (edit,) = (await engine.poll_source(chan)).events
        assert edit.kind is EventKind.JOINED
        assert edit.update.id == lone.update.id and edit.update.cluster == first.update.id
        assert edit.update.sources_in_cluster == 2
        assert edit.update.revision == lone.update.revision + 1
        stored = {u.id: u for u in store.all_updates()}
        assert stored[lone.update.id].cluster == first.update.id
        assert "6,000" in stored[lone.update.id].title
    # a restart rebuilds the index from the store: the moved report stays in the story
    with Store(tmp_path / "fw.db") as store:
        async with Engine(topic, store) as engine:
            site.put("/channel.xml", rss(channel.format("6,000"), "c1", 12) .replace(
                "</channel>", "<item><title>Unrelated: budget vote delayed</title><guid>c2"
                "</guid></item></channel>"))
            events = (await engine.poll_source(chan)).events
        assert [e.kind for e in events] == [EventKind.NEW]
        assert {u.cluster for u in store.all_updates() if u.source == "Channel"} == {
            first.update.id, events[0].update.id}


def test_a_call_by_someone_else_is_another_event() -> None:
    """Who held a call is the event: Zelensky's call with Erdogan is not Putin's, two hours
    later, about the same talks (the verb's subject is a lead, as for "says")."""
    a = doc(1, "Zelensky held a phone call with Erdogan: discussed the next round of talks in "
               "Istanbul and the exchange of prisoners.", source="tg/a")
    b = doc(2, "Putin and Erdogan discussed the Istanbul talks by phone, the Kremlin said.",
            minutes=110, source="wire/b")
    c = doc(3, "Erdogan and Zelensky discussed the next Istanbul round by phone.",
            minutes=20, source="wire/c")
    assert clusters(a, b, c) == [1, 2, 1]
