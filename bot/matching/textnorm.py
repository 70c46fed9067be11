"""Turning questions and posts into words: URLs, mentions, signatures and noise out; dates and intents found.

Pure functions, no SQLite, no Discord.
"""

from __future__ import annotations

import calendar
import functools
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before being below
    between both but by can could did do does doing done down during each few for from further get got had has
    have having he her here hers herself him himself his how i if in into is it its itself just me more most my
    myself no nor not now of off on once only or other our ours ourselves out over own same she should so some
    such than that the their theirs them themselves then there these they this those through to too under until
    up very was we were what when where which while who whom why will with would you your yours yourself
    yourselves anything something said say says tell told know think thing things like one ever really much
    many via amp rt lol u ur im dont didnt doesnt isnt wasnt wont cant yes yeah ok okay please
    tbh ngl smth sth idk imo imho btw rn pls plz thx omg wtf kinda gonna wanna gotta yall actually basically
    literally honestly seriously anyway anyways guys hey hi""".split()  # noqa: SIM905
) | frozenset(
    # Russian, Ukrainian and German: question and function words, and verbs of saying (as "said" above)
    """что чего чём кто кого как когда где почему зачем ли же это этот эта эти тот та те об о про по на в во
    с со к ко у из за для от до и а но или не ни бы был была были было есть ещё уже там тут вот так
    сказал сказала сказали сказало говорил говорила говорили говорит говорят заявил заявила заявили заявило
    заявляет заявляют ответил ответила ответили
    после перед через между пока если тоже также чтобы только вообще ведь очень всё все всех себя свой свою своей
    его её их нас вас мы вы они он она оно будет может можно нужно тогда потом сейчас теперь
    що чого хто кого як коли де чому чи це цей ця ці той та ті про по на в у з із за для від до і й а але
    або не ні би був була були було є ще вже там тут ось так сказав сказала сказали сказало казав казала
    казали каже кажуть говорив говорила говорить говорять заявив заявила заявили заявило заявляє заявляють
    відповів відповіла відповіли
    після перед через між також тільки щоб якщо поки взагалі дуже все всі себе свій свою його її їх нас вас ми ви
    вони він вона буде може можна треба тоді потім зараз тепер
    was wer wen wem wie wann wo warum wieso ob hat haben hatte hatten ist sind war waren der die das dem den
    des ein eine einen einem einer zu zum zur über von vom und oder aber nicht es sich im in an am auf aus
    mit für bei nach sagt sagte sagten sagen gesagt meint meinte gemeint erklärt erklärte
    dann wenn weil dass nur schon sehr alle sein seine ihre wir ihr sie er kann muss gibt gab jetzt damals danach
    vor durch gegen ohne um""".split()  # noqa: SIM905
)

# Short words (and chat shorthands) of the languages members write in, which a short all-caps name (IS, US, WHO,
# TV) also spells: such a name counts only when typed in capitals. Other short names (RT, FSB, NSC) count however
# they are typed.
SHORT_WORDS = frozenset(
    """a am an as at be by do go he hi if in is it me my no of oh ok on or so to up us we
    all and any are ask bad big but can did due end far few for get got had has her him his how its let lot may
    new nor not now off old one our out own per put saw say see set she sir six ten the too top two use war was
    way who why win yes yet you ad ai cc dm id pm re tv vs fyi irl lol omg btw
    ab an da du er es ja ob um wo zu im am aus bei das dem den der des die ein hat ich ist mit nun sie so und
    von vor was wer wie wir""".split()  # noqa: SIM905
)

_URL_RE = re.compile(r"https?://\S+|www\.\S+|pic\.twitter\.com/\S+|\b\S+\.(?:com|org|net|ly|co)/\S*", re.I)
_DISCORD_MARKUP = r"<(?:@[!&]?|#|a?:\w+:)\d+>"  # a mention of a member, role or channel, or a custom emoji
_DISCORD_MARKUP_RE = re.compile(_DISCORD_MARKUP)
_MENTION_RE = re.compile(_DISCORD_MARKUP + r"|@\w+")
# A tweet's trailing signature: "— Name (@handle) January 14, 2020"
_SIGNATURE_RE = re.compile(r"[—–-]\s*[^—–\n]{0,80}\(@\w+\)\s*\w+\s+\d{1,2},\s*\d{4}\s*$")
_HASHTAG_RE = re.compile(r"#(\w+)")
_CAMEL_RE = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_WORD_RE = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)

EVIDENCE_WORDS = frozenset(
    """proof proofs prove proved proven evidence evidenced show shown showed presented present substantiate
    substantiated backed back footage video documents document documented corroborate corroborated verify
    verified basis""".split()  # noqa: SIM905
)

_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
_MONTH_NAMES = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DATE_PATTERNS = [
    re.compile(r"\b(\d{4})-(\d{2})(?:-(\d{2}))?\b"),
    re.compile(rf"\b({_MONTH_NAMES})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(\d{{4}}))?\b", re.I),
    re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTH_NAMES})\.?(?:,?\s+(\d{{4}}))?\b", re.I),
    re.compile(rf"\b({_MONTH_NAMES})\.?\s+(\d{{4}})\b", re.I),
]


@dataclass(frozen=True)
class DateAsked:
    """A date named in a question; any part may be missing."""

    year: int | None
    month: int | None
    day: int | None

    def agreement(self, said_at: str | None) -> float:
        """1.0 when the claim's date agrees at the precision asked, 0.5 same month only, -1.0 contradicts,
        0.0 when the claim has no date."""
        if not said_at:
            return 0.0
        parts = [int(p) for p in said_at.split("-")]
        year, month, day = [*parts, None, None][:3]
        if self.year is not None and year != self.year:
            return -1.0
        if self.month is not None:
            if month is None:
                return 0.0
            if month != self.month:
                return -1.0
        if self.day is not None:
            if day is None:
                return 0.5
            return 1.0 if day == self.day else -1.0
        return 1.0


_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"))  # soft hyphen, zero-width


def fold(text: str) -> str:
    """Text as the matcher reads it: compatibility forms folded (fullwidth "Ｉｓｉｓ" → "Isis"), invisible
    characters inside words removed, and the Turkish dotted capital İ read as a plain I."""
    return unicodedata.normalize("NFKC", text.translate(_INVISIBLE)).replace("İ", "I")


def strip_noise(text: str) -> str:
    """Remove URLs, Discord and Twitter mentions, and a tweet's trailing signature; split hashtags."""
    text = _SIGNATURE_RE.sub(" ", fold(text).strip())
    text = _URL_RE.sub(" ", text)
    text = _MENTION_RE.sub(" ", text)
    return _HASHTAG_RE.sub(lambda m: " " + _CAMEL_RE.sub(" ", m.group(1)) + " ", text)


def for_embedding(text: str) -> str:
    """The text the model reads: without URLs and Discord's mention and emoji markup (tokens that carry no
    meaning and cost time); a tweet's @handles and signature stay, as they name who is speaking."""
    cleaned = " ".join(_DISCORD_MARKUP_RE.sub(" ", _URL_RE.sub(" ", text)).split())
    return cleaned or text.strip()


def words(text: str) -> list[str]:
    """Lowercase words, possessives dropped ("Putin's" → "putin")."""
    text = fold(text)
    if "'" not in text and "’" not in text:  # no possessive and no apostrophe to straighten: lowercase only
        return [word.lower() for word in _WORD_RE.findall(text)]
    out = []
    for word in _WORD_RE.findall(text):
        word = word.lower()
        if word.endswith(("'s", "’s")):
            word = word[:-2]
        out.append(word.replace("’", "'"))
    return out


_ACRONYM = re.compile(r"(?<!\w)[A-Z]{2,5}(?!\w)")
_BRACKETED_NAME = re.compile(r"\(((?:[A-Z][\w'-]*)(?: [A-Z][\w'-]*){0,4})\)")


def role_names(role: str) -> list[str]:
    """What a speaker's role names them by besides their name: its acronyms and the proper names in its brackets
    ("Editor-in-chief of RT (Russia Today)": RT, Russia Today). A bracketed remark ("(opinion)") is no name."""
    found = _ACRONYM.findall(role) + _BRACKETED_NAME.findall(role)
    return list(dict.fromkeys(found))


def content_words(text: str) -> list[str]:
    """Words that carry meaning: no stopwords, no single letters, no bare numbers other than years."""
    return [
        w
        for w in words(text)
        if w not in STOPWORDS and len(w) > 1 and (not w.isdigit() or (len(w) == 4 and w.startswith(("19", "20"))))
    ]


_OPENS_SENTENCE_RE = re.compile(r"(?:^|[.!?:;\"“”«»()\[\]])\s*$")


@functools.lru_cache(maxsize=16_384)
def names_written(text: str) -> Mapping[str, str]:
    """The words a text writes with a capital inside a sentence, the names of people, places and organisations
    it mentions ("in Russia on Sunday", "told Reuters"): their normalised form -> the word as written. A
    sentence's or a quotation's first word is not taken for one."""
    text = fold(text)
    found: dict[str, str] = {}
    for match in _WORD_RE.finditer(text):
        word = match.group(0)
        if word[0].isupper() and not _OPENS_SENTENCE_RE.search(text, max(match.start() - 8, 0), match.start()):
            for part in words(word):
                found.setdefault(norm(part), word.removesuffix("'s").removesuffix("’s"))
    return MappingProxyType(found)  # cached: shared by every caller


@functools.lru_cache(maxsize=200_000)
def norm(word: str) -> str:
    """A light stem so "claims"/"claimed"/"claiming" meet; used for coverage, not for the index."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix) and not word.endswith("ss"):
            return word[: -len(suffix)]
    return word


def dates_asked(text: str) -> list[DateAsked]:
    found: list[DateAsked] = []
    for number, pattern in enumerate(_DATE_PATTERNS):
        for match in pattern.finditer(text):
            groups = match.groups()
            try:
                if number == 0:
                    date = DateAsked(int(groups[0]), int(groups[1]), int(groups[2]) if groups[2] else None)
                elif number == 1:
                    date = DateAsked(int(groups[2]) if groups[2] else None, _MONTHS[groups[0].lower()], int(groups[1]))
                elif number == 2:
                    date = DateAsked(int(groups[2]) if groups[2] else None, _MONTHS[groups[1].lower()], int(groups[0]))
                else:
                    date = DateAsked(int(groups[1]), _MONTHS[groups[0].lower()], None)
            except (KeyError, ValueError):
                continue
            if date.month is not None and not 1 <= date.month <= 12:
                continue
            if date.day is not None and not 1 <= date.day <= 31:
                continue
            if date not in found:
                found.append(date)
    # "22 March 2024" also reads as "March 2024": keep only the most precise reading.
    return [
        d
        for d in found
        if not (d.day is None and any(o.day is not None and (o.month, o.year) == (d.month, d.year) for o in found))
    ]


def asks_for_evidence(tokens: list[str]) -> bool:
    return any(t in EVIDENCE_WORDS for t in tokens)


# "which group", "what organisation", "какая группировка", "яке угруповання", "welche Gruppe": the question asks
# for a group or an organisation, not a person or a state ("which group said they did it?")
_ASKS_FOR_GROUP = re.compile(
    r"(?<!\w)(?:(?:which|what)\s+(?:(?:terrorist|terror|militant|islamist|jihadist|armed|extremist)\s+)?"
    r"(?:group|groups|organi[sz]ations?|outfit|faction|network|cell)"
    r"|(?:какая|какой|какие|что\s+за)\s+(?:(?:террористическая|исламистская|радикальная)\s+)?"
    r"(?:группировка|группировки|группа|группы|организация|организации)"
    r"|(?:яке|яка|які|що\s+за)\s+(?:(?:терористичне|терористична|ісламістське|радикальне)\s+)?"
    r"(?:угруповання|група|групи|організація|організації)"
    r"|(?:welche|welcher|was\s+für\s+eine)\s+(?:(?:islamistische|radikale)\s+)?"
    r"(?:gruppe|gruppierung|organisation|terrorgruppe|terrororganisation|terrormiliz|miliz))(?!\w)",
    re.IGNORECASE,
)


def asks_for_group(text: str) -> bool:
    """Whether the question asks which group or organisation (not which person or state) said or did something."""
    return _ASKS_FOR_GROUP.search(fold(text)) is not None


def is_date_word(word: str) -> bool:
    """A month name or a year: part of a date rather than of the question's subject."""
    return word in _MONTHS or (word.isdigit() and len(word) == 4)


# Cyrillic → Latin, close to the spellings English news uses for Russian and Ukrainian names ("Зеленський" →
# "zelenskyi", "Медведев" → "medvedev"): enough to recognise a name, not a standard romanisation.
_CYRILLIC = dict(
    zip(
        "абвгґдеёєжзиіїйклмнопрстуфхцчшщъыьэюя",
        "a b v g g d e e ye zh z i i yi y k l m n o p r s t u f kh ts ch sh shch _ y _ e yu ya".split(),  # noqa: SIM905
        strict=True,
    )
)


def latin(word: str) -> str:
    """A lowercase word in Cyrillic letters spelled in Latin ones; other words unchanged."""
    if not any("\u0400" <= ch <= "\u04ff" for ch in word):
        return word
    return "".join(_CYRILLIC.get(ch, ch) for ch in word.lower()).replace("_", "")


def names_word(word: str, name_word: str) -> bool:
    """Whether a question's word is an inflected or transliterated form of a name's word: "путина" and
    "putins" are "putin", "зеленського" is "zelenskiy". The name word must be at least four letters."""
    if len(name_word) < 4:
        return False
    word = latin(word)
    stem = name_word[: max(4, len(name_word) - 2)]
    return word.startswith(stem) and len(word) <= len(name_word) + 4


_VOWELS_RE = re.compile(r"[aeiouy]")


def same_consonants(word: str, name_word: str) -> bool:
    """Whether two Latin-spelled words differ only in their vowels ("medvyedyev" and "medvedev", as a name written
    in Cyrillic with Ukrainian or misremembered vowels comes out); at least four consonants each."""
    consonants = _VOWELS_RE.sub("", name_word)
    return len(consonants) >= 4 and _VOWELS_RE.sub("", word) == consonants


# Words that ask rather than say what about: "what was Putin's claim", "Medvedev's response"; and words for a
# post, which beside a name only point at its holder ("the RT boss", "the FSB chief"). A question made only of
# these, stopwords and a speaker's name asks for everything the speaker said.
ASKING_WORDS = frozenset(
    """claim claimed claims claiming statement statements response respond responded react reacted reaction
    reactions comment comments commented position stance view views opinion take mean meant meaning according
    per reply replied answer answered speak spoke spoken talk talked talking regarding concerning version
    версия версія
    заявление заявления заява ответ відповідь мнение думка behauptung aussage meinung
    behauptet behauptete behaupteten behaupten утверждает утверждал утверждала утверждали утверждают стверджує
    стверджував стверджувала стверджували стверджують
    boss chief head leader editor spokesman spokeswoman spokesperson spox official officials representative
    глава главред шеф руководитель представитель пресс-секретарь спикер очільник керівник голова речник
    chef chefin leiter leiterin sprecher sprecherin""".split()  # noqa: SIM905
)


# Function words that mark a Latin-script text as English, or as another language members write in. A text
# with none of them (a few names, "Yusov Reuters") has no language the matcher can tell.
_ENGLISH_MARKS = frozenset(
    """the a an and is are was were did does do what who whom why how when where which of to in on for with about
    that this have has had been be it they their there from by as at or but not any said say""".split()  # noqa: SIM905
)
_OTHER_MARKS = frozenset(
    # German, French, Spanish: words English does not use
    """der das und ist nicht wer wie wann warum hat haben sich zum zur über von mit für auch noch ein eine einen
    dem des im vom bei nach sind wurde werden gesagt
    le les est une qui quoi pourquoi comment dans pour avec sur du au aux ont été dit
    el los las es qué quién cómo una del con para por dijo son fue""".split()  # noqa: SIM905
)


@functools.lru_cache(maxsize=16_384)
def language_family(text: str) -> str:
    """ "cyrillic", "english", "latin" (another language in Latin letters) or "" (cannot tell): enough to know
    whether a question and a claim are in the same language, which changes how close their vectors come."""
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return ""
    cyrillic = sum(1 for ch in letters if "\u0400" <= ch <= "\u04ff")
    if cyrillic * 2 > len(letters):
        return "cyrillic"
    tokens = words(text)
    english = sum(1 for w in tokens if w in _ENGLISH_MARKS)
    other = sum(1 for w in tokens if w in _OTHER_MARKS) + sum(1 for ch in text.lower() if ch in "äöüßéèêñ¿¡")
    if english > other:
        return "english"
    if other > english:
        return "latin"
    return ""


def same_language(first: str, second: str) -> bool:
    """Whether two texts are in one language as far as ``language_family`` tells (unknown counts as the same)."""
    a, b = language_family(first), language_family(second)
    return not a or not b or a == b
