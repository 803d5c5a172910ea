"""The demo story: the second round of Russia–Ukraine talks in Istanbul, 2 June 2025.

Written in the project's own words from the facts in shared/demo-story.md. Several outlets
and two Telegram-style channels report each fact minutes apart, reworded: the overlap is what
the demo exists to show. Times are Istanbul local time (UTC+3).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

ISTANBUL = timezone(timedelta(hours=3))
STORY_START = datetime(2025, 6, 2, 12, 30, tzinfo=ISTANBUL)


@dataclass(frozen=True, slots=True)
class Feed:
    slug: str
    title: str
    format: str  # "rss", "atom", "rdf", "telegram"
    site: str
    lang: str = "en"


@dataclass(frozen=True, slots=True)
class Item:
    feed: str
    at: str  # "HH:MM" Istanbul time
    title: str
    text: str
    media: str | None = None
    forwarded_from: tuple[str, str] | None = None
    edit_at: str | None = None  # when the source corrected it
    edited_text: str | None = None

    @property
    def published(self) -> datetime:
        return _at(self.at)

    @property
    def edited(self) -> datetime | None:
        return _at(self.edit_at) if self.edit_at else None


def _at(hhmm: str) -> datetime:
    hour, minute = (int(x) for x in hhmm.split(":"))
    return STORY_START.replace(hour=hour, minute=minute)


FEEDS: tuple[Feed, ...] = (
    Feed("bosphorus-wire", "Bosphorus Wire — World", "rss", "https://bosphorus-wire.example"),
    Feed("continental-desk", "Continental Desk: Europe", "atom",
         "https://continental-desk.example"),
    Feed("ledger-live", "Kyiv Ledger — Live: Istanbul talks", "atom",
         "https://kyiv-ledger.example"),
    Feed("global-monitor", "Global Monitor headlines", "rdf", "https://global-monitor.example"),
    Feed("frontline_flash", "Frontline Flash ⚡", "telegram", "https://t.me/frontline_flash"),
    Feed("srochno_mir", "Срочно | Мир", "telegram", "https://t.me/srochno_mir", lang="ru"),
)

ITEMS: tuple[Item, ...] = (
    # --- before the talks ---------------------------------------------------------------
    Item("bosphorus-wire", "12:34", "Delegations gather in Istanbul for second round of talks",
         "Russian and Ukrainian delegations are in Istanbul for a second round of direct "
         "talks, hosted by Turkey at a palace on the Bosphorus."),
    Item("global-monitor", "12:41", "Second round of Russia-Ukraine talks due in Istanbul",
         "Negotiators from Moscow and Kyiv are expected to meet in Istanbul on Monday for a "
         "second round of direct talks."),
    Item("ledger-live", "12:46", "Zelensky: Umerov is preparing, but I doubt Russia wants results",
         "President Zelensky said defence minister Rustem Umerov is preparing for the "
         "Istanbul meeting. He said he was not sure Russia was ready for anything productive, "
         "that a ceasefire matters most, and that Ukraine needs money for domestic weapons "
         "production and more support from European and American partners."),
    Item("frontline_flash", "12:49", "",
         "Zelensky: not sure Russia is ready for anything productive in Istanbul. A ceasefire "
         "is what matters. We need funding for our own arms production and more help from "
         "Europe and the US."),
    Item("continental-desk", "12:55", "Zelensky doubts Moscow will bring anything productive",
         "Ahead of the Istanbul round, Volodymyr Zelensky said his defence minister was "
         "preparing for the meeting, but voiced doubt that Russia was ready for anything "
         "productive. Ukraine needs funding for domestic arms production, he added."),
    Item("srochno_mir", "12:58", "",
         "Зеленский: не уверен, что Россия готова к чему-то продуктивному в Стамбуле. "
         "Главное — прекращение огня. Украине нужны деньги на собственное производство "
         "оружия."),
    # --- delay --------------------------------------------------------------------------
    Item("frontline_flash", "13:02", "",
         "❗️ Istanbul talks delayed by more than 1 h 20 min. Reporters on the ground say "
         "Umerov first went to meet the Turkish foreign minister."),
    Item("ledger-live", "13:04", "Talks delayed by over an hour and twenty minutes",
         "The start of the talks has been pushed back by more than 1 hour 20 minutes. Our "
         "reporters in Istanbul say the head of the Ukrainian delegation, defence minister "
         "Rustem Umerov, first went to a meeting with the Turkish foreign minister."),
    Item("srochno_mir", "13:06", "",
         "❗️ Переговоры в Стамбуле задерживаются более чем на 1 час 20 минут. Умеров сначала "
         "отправился на встречу с главой МИД Турции."),
    Item("bosphorus-wire", "13:09", "Start of Istanbul talks delayed as Umerov meets Fidan",
         "The start of Russia-Ukraine talks in Istanbul was delayed by more than 80 minutes "
         "after Ukraine's defence minister Rustem Umerov went first to meet Turkish foreign "
         "minister Hakan Fidan, reporters said."),
    Item("global-monitor", "13:15", "Istanbul talks start late; Ukrainian delegation head meets "
         "Turkish foreign minister first",
         "Talks were running more than an hour and twenty minutes late. Ukrainian delegation "
         "head Rustem Umerov met the Turkish foreign minister before the session."),
    Item("frontline_flash", "13:18", "", "", media="photo"),
    Item("frontline_flash", "13:19", "",
         "More: the venue, Çırağan Palace, this afternoon. Delegations still not in the room."),
    # --- Umerov-Fidan meeting over --------------------------------------------------------
    Item("ledger-live", "13:31", "Umerov–Fidan meeting over, talks to begin shortly",
         "The meeting between Umerov and the Turkish foreign minister has ended. The talks "
         "with the Russian delegation are expected to start shortly."),
    Item("frontline_flash", "13:33", "",
         "⚡️ Umerov's meeting with the Turkish FM has ended. Talks expected to start shortly."),
    Item("srochno_mir", "13:35", "",
         "Встреча Умерова с министром иностранных дел Турции завершилась. Переговоры должны "
         "начаться в ближайшее время."),
    Item("continental-desk", "13:38", "Ukrainian minister ends meeting with Turkish counterpart",
         "Rustem Umerov has finished his meeting with Turkey's foreign minister; the talks "
         "with Russia are expected to begin shortly, officials said."),
    # --- talks begin ----------------------------------------------------------------------
    Item("bosphorus-wire", "14:19", "Russia-Ukraine talks begin in Istanbul",
         "Direct talks between Russian and Ukrainian delegations began at Çırağan Palace in "
         "Istanbul, Turkey's foreign ministry said."),
    Item("frontline_flash", "14:20", "", "❗️ The talks in Istanbul have begun."),
    Item("srochno_mir", "14:21", "", "❗️ Переговоры в Стамбуле начались."),
    Item("ledger-live", "14:23", "The talks have started",
         "The Russian and Ukrainian delegations are now in the room. Turkey's foreign minister "
         "opened the session."),
    # --- Axios memorandum ---------------------------------------------------------------
    Item("global-monitor", "14:41", "Axios: Russian memo demands Ukraine leave four regions",
         "In its memorandum on ending the war, Russia demands that Ukrainian forces withdraw "
         "from four regions, Axios reports. Moscow's position is essentially unchanged."),
    Item("frontline_flash", "14:44", "",
         "Axios: Russia's memorandum demands the withdrawal of Ukrainian troops from four "
         "regions. Position essentially unchanged."),
    Item("continental-desk", "14:47", "Russia's memorandum: Ukrainian withdrawal from four "
         "regions",
         "Russia's draft memorandum on ending the war calls for Ukrainian forces to pull out "
         "of four regions, according to Axios, showing little change in Moscow's position."),
    Item("srochno_mir", "14:52", "",
         "Axios: в меморандуме Россия требует вывода украинских войск из четырёх областей. "
         "Позиция по сути не изменилась."),
    # --- talks end ----------------------------------------------------------------------
    Item("frontline_flash", "15:35", "", "❗️ Talks in Istanbul are over."),
    Item("srochno_mir", "15:35", "", "❗️ Переговоры в Стамбуле завершились."),
    Item("frontline_flash", "15:36", "", "Adding: they lasted 1 hour and 15 minutes."),
    Item("bosphorus-wire", "15:38", "Istanbul talks end after 1 hour 15 minutes",
         "The second round of direct talks between Russia and Ukraine ended after 1 hour and "
         "15 minutes, a Ukrainian source said."),
    Item("ledger-live", "15:39", "Talks over after an hour and a quarter",
         "The talks in Istanbul have ended. They lasted 1 hour 15 minutes."),
    Item("global-monitor", "15:44", "Russia-Ukraine talks in Istanbul end",
         "Talks between the Russian and Ukrainian delegations in Istanbul have ended after "
         "1 hour and 15 minutes."),
    Item("continental-desk", "15:46", "Second round of talks ends in Istanbul",
         "The talks in Istanbul ended after about an hour and 15 minutes; the delegations "
         "left Çırağan Palace."),
    # --- Turkish MFA ----------------------------------------------------------------------
    Item("bosphorus-wire", "15:52", "Turkey says Istanbul talks ended 'not negatively'",
         "Turkey's foreign ministry said the talks ended \"not negatively\"."),
    Item("frontline_flash", "15:53", "",
         "Turkish MFA: the talks ended \"not negatively\"."),
    Item("srochno_mir", "15:55", "",
         "МИД Турции: переговоры завершились «не негативно»."),
    # --- Umerov: bodies exchange ----------------------------------------------------------
    Item("frontline_flash", "16:02", "",
         "❗️ Umerov: the sides agreed to exchange the bodies of the dead, 5,000 for 5,000.",
         edit_at="16:07",
         edited_text="❗️ Umerov: the sides agreed to exchange the bodies of the dead, "
         "6,000 for 6,000."),
    Item("ledger-live", "16:04", "Umerov: bodies of the dead to be exchanged 6,000 for 6,000",
         "Defence minister Rustem Umerov said the sides agreed to exchange the bodies of "
         "fallen soldiers, \"6,000 for 6,000\"."),
    Item("srochno_mir", "16:05", "",
         "Умеров: стороны договорились обменяться телами погибших — 6000 на 6000."),
    Item("bosphorus-wire", "16:09", "Russia and Ukraine agree to swap 6,000 bodies each",
         "Ukraine and Russia agreed to exchange the bodies of 6,000 dead soldiers each, "
         "Ukraine's defence minister Umerov said after the talks."),
    Item("global-monitor", "16:12", "Sides agree on 6,000-for-6,000 exchange of bodies",
         "Umerov said the two sides agreed to hand over the bodies of the dead, 6,000 for "
         "6,000."),
    Item("continental-desk", "16:14", "Umerov: agreement to exchange remains of 6,000 soldiers",
         "Ukraine's delegation head said both sides would return the bodies of 6,000 fallen "
         "soldiers, the main concrete result of the day."),
    # --- FT: no breakthroughs ---------------------------------------------------------------
    Item("continental-desk", "16:26", "FT: no major breakthroughs, only 'minor steps'",
         "A senior Ukrainian official told the Financial Times there were no major "
         "breakthroughs, only \"minor steps, as expected\". There were no handshakes, and "
         "Kyiv says Moscow is sticking to maximalist demands."),
    Item("frontline_flash", "16:28", "",
         "FT, citing a senior Ukrainian official: no major breakthroughs, \"minor steps, as "
         "expected\". No handshakes. Moscow sticks to its maximalist demands."),
    Item("ledger-live", "16:31", "Senior official to FT: 'minor steps, as expected'",
         "No major breakthroughs in Istanbul, a senior Ukrainian official told the Financial "
         "Times: \"minor steps, as expected\". No handshakes; Moscow keeps its maximalist "
         "demands, Kyiv says."),
    Item("srochno_mir", "16:34", "",
         "FT со ссылкой на украинского чиновника: крупных прорывов нет, «небольшие шаги, как "
         "и ожидалось». Рукопожатий не было."),
    Item("global-monitor", "16:40", "Ukraine says Moscow clings to maximalist demands",
         "Kyiv said Moscow stuck to maximalist demands in Istanbul; a senior Ukrainian "
         "official described the outcome to the Financial Times as minor steps."),
)


def items_for(feed: str) -> list[Item]:
    return [i for i in ITEMS if i.feed == feed]


def story_end() -> datetime:
    return max(max(i.published, i.edited or i.published) for i in ITEMS)
