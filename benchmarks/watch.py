"""Watched channels: precision of the automatic replies at the watch threshold.

CheckThat! 2020 Task 2 tweets (read from ../shared/bench/checkthat-2020, never copied) are treated as chat messages
in a watched channel whose server holds the CheckThat verified claims; beside them, the off-topic chat messages
written below (banter, questions, news without a ledger claim, messages naming the people the claims are about
without repeating a claim). Each message goes through the same steps as the bot (bot.watching: too short → no
check; the ledger's top 3; the best claim must reach the threshold). A reply is correct when its claim is the
tweet's gold claim. The threshold is tuned on train (the lowest with precision ≥ the target and no off-topic reply
on the tuning half of the off-topic messages); dev is reported at it.

    python benchmarks/watch.py [--db /tmp/claimledger-bench/checkthat.db] [--target 0.95] [--lexical]

The prebuilt ledger (with vectors) is copied to a temporary file and opened there, so the original stays as it
was; without one, the claims are imported as benchmarks/checkthat.py does (and embedded: slow).
"""

from __future__ import annotations

import argparse
import csv
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.matching import DenseIndex, Matcher, default_embedder  # noqa: E402
from bot.store import Ledger  # noqa: E402
from bot.watching import pick, watch_threshold, worth_checking  # noqa: E402

DATA = ROOT.parent / "shared" / "bench" / "checkthat-2020"
PREBUILT = Path("/tmp/claimledger-bench/checkthat.db")
QUOTES = str.maketrans({c: '"' for c in "“”„‟'‘’‚‛`´"})
GRID = [round(0.5 + 0.01 * i, 2) for i in range(50)]

# ------------------------------------------------------------------ off-topic chat, written for this benchmark

BANTER = """lol same
good morning everyone, coffee is brewing and I am already tired
who's up for a game tonight? I can host at 9
that meme you posted yesterday is still killing me
brb, dinner is ready
my cat just knocked my phone off the desk again
does anyone else think this channel needs more pictures of dogs
happy birthday Sam!! hope you have a great one
I can't believe it's already December, this year flew by
finally finished that 1000 piece puzzle, took me three weeks
ok I'm going to bed, see you all tomorrow
this weather is ridiculous, it rained sideways all afternoon
anyone watching the football tonight? my team is going to lose again
thanks for the help earlier, the script works now
I made pancakes and they were a disaster, half of them stuck to the pan
what a week, I need a holiday somewhere warm
who changed the server icon? I kind of like it
my internet has been dropping every ten minutes today
the new album is fine but the old one was better honestly
just got back from the gym and I can barely walk
I'll be late to the call, stuck in traffic
congrats on the new job, that's huge
somebody please recommend a good podcast for a long drive
the coffee machine at work broke and morale is at an all time low
we should do a movie night on Friday, any suggestions?
my plants are finally growing after I moved them by the window
haha that typo made my day
I have way too many browser tabs open right now
that was the longest meeting of my life, nothing got decided
welcome to the server, glad you found us!
this pizza place downstairs is dangerous for my wallet
I keep forgetting to drink water, someone remind me
my kid asked me why the sky is blue and I panicked
finally beat that level after forty tries
the train was cancelled again so I'm working from home
just saw the cutest dog at the park, a tiny corgi with a hat
can we please stop talking about spoilers in general chat
I started learning the guitar and my fingers hurt so much
anyone else's phone battery dying way faster since the update?
hot take: pineapple on pizza is fine and you all need to relax
morning all, what's everyone up to this weekend?
grabbing lunch, want anything?
I think I left the oven on, be right back
the playoffs are going to be wild this year
I spent the whole evening reorganising my bookshelf by colour
the sunset tonight was unreal, wish I had my camera
my neighbour is drilling at 7am on a Sunday, why
great stream yesterday, the chat was hilarious
ugh, Mondays
my sourdough starter is alive and I am weirdly proud
this channel is quiet today, everyone must be busy
anyone know a good place to get a bike repaired downtown
I'm so behind on emails it isn't even funny
we won the pub quiz last night, first time ever
what is everyone reading at the moment?
I should really clean my keyboard, it's disgusting
that update broke my favourite feature, thanks devs
road trip next week, send snack recommendations
I laughed so hard at the bloopers reel
the office is freezing, I'm wearing my coat indoors""".splitlines()

QUESTIONS = """does anyone know how to export a spreadsheet to csv without losing the dates?
what time does the store close on Sundays?
how do I set up two factor auth on this server?
has anyone tried the new ramen place on Fifth street?
which laptop would you recommend for programming under 1000 dollars?
is the meeting still at 3 or did it move?
where can I find the rules for this channel?
how long does it take to get a passport renewed these days?
can someone explain how compound interest works?
what's the best way to learn Spanish quickly?
does anybody have a spare HDMI cable I could borrow?
what is the capital of Australia, I always forget
how do you cook rice without it getting mushy?
why does my code work on my machine but not on the server?
is it worth upgrading my phone this year or should I wait?
anyone know if the library is open on public holidays?
who is bringing the projector for the workshop?
how do I change my nickname in this server?
what's a good book about the history of science?
has anyone been to Lisbon? looking for tips
what do you all use for taking notes?
how much should I tip at a restaurant in the US?
does this bot have a help command somewhere?
what's the difference between a virus and a bacterium?
when is the next community call?
can anyone recommend a dentist near the station?
how do I get my sourdough to rise more?
what's everyone's favourite board game for four players?
is there a way to mute a channel on mobile?
what are the best hiking trails near the city?
how do I stop my dog from barking at the mailman?
which VPN do people here use, if any?
how do you deal with burnout at work?
what's the easiest way to back up my photos?
anyone know how to fix a squeaky door hinge?
did the election results come out yet in your area?
what time is the debate on tonight?
how do fact checkers decide what to check?
is anyone else going to the conference in March?
how does the electoral college actually work?
what does the president actually do all day?
how do vaccines get approved in the first place?
where do I look up what a senator voted on?
who won the game last night?
how many people live in Texas these days?
what is the minimum wage where you live?
can someone explain what a filibuster is?
how do I report a scam text message?
is it safe to use public wifi for banking?
what's a good source for world news that isn't paywalled?""".splitlines()

NEWS = """the city council approved the new bike lanes on Main Street yesterday
a storm is expected to hit the coast this weekend, stay safe everyone
the museum is reopening the dinosaur wing next month after renovations
our local bakery won a national award for its croissants
the marathon is closing several roads downtown on Sunday morning
scientists released new images of a distant galaxy this week
the school district announced a new start time for next year
a new bridge opened across the river after three years of work
the train company announced fare increases starting in January
the farmers market is moving indoors for the winter
the library is launching a free coding class for teenagers
a power outage hit the north side of town for two hours last night
the zoo welcomed a baby giraffe over the weekend
the stock market closed slightly higher today after a quiet session
the airport is adding direct flights to three new cities next spring
the film festival announced its lineup this morning
the national team qualified for the tournament with a late goal
a new study says people are sleeping less than they did a decade ago
the city is planting ten thousand trees over the next five years
the post office will have extended hours before the holidays
a heatwave is forecast for the end of the week
the tech company unveiled its new phone at an event in California
the central bank left interest rates unchanged this month
the state fair broke its attendance record this year
the highway repairs will continue through the end of the month
the orchestra is playing a free concert in the park on Saturday
the university announced it will build a new science building
the ferry service resumed after the storm damage was repaired
a local teenager won the regional spelling bee
the hospital opened a new children's ward this week
a new species of frog was discovered in the rainforest
the water company says tap water is safe again after the flushing
the space agency postponed the rocket launch because of high winds
the annual book fair starts on Thursday at the convention centre
the mayor cut the ribbon on the new community pool
the recycling schedule is changing next week, check the website
the bakery on the corner is closing after forty years
the film about the moon landing is coming to theatres in May
the football club signed a new striker from Brazil
the city marathon raised a record amount for charity
the theatre is staging a new production of Hamlet
the park is hosting a food truck festival next weekend
the new subway line opened to passengers this morning
the electric car maker reported record deliveries this quarter
the ski resorts are opening early thanks to heavy snowfall
a documentary about honeybees won the audience award
the county fair is looking for volunteers
the observatory is hosting a night for the meteor shower
the chess championship went to a tiebreak for the first time in years
the airline is adding more legroom on long flights""".splitlines()

# People and subjects the CheckThat claims are about, named without repeating any claim.
PEOPLE = ["Trump", "Obama", "Hillary Clinton", "Joe Biden", "Nancy Pelosi", "Bernie Sanders", "Ilhan Omar",
          "Mike Pence", "Michelle Obama", "Elizabeth Warren", "AOC", "Mitch McConnell", "Greta Thunberg",
          "Kamala Harris", "Pete Buttigieg", "Rudy Giuliani", "the Pope", "Melania Trump", "Adam Schiff",
          "Soleimani"]  # fmt: skip
NAMING = [
    "did anyone catch {name} on the news last night? I missed it",
    "{name} is trending again, I'm not even going to look",
    "my uncle will not stop talking about {name} at dinner",
    "is there a good biography of {name} worth reading?",
    "I saw a documentary about {name} on the plane, it was fine",
    "can we have one day without arguing about {name} in here",
    "somebody made a really good cartoon of {name}, I'll find the link later",
    "what's the latest with {name}? I've been offline all week",
    "I'm tired of every thread turning into a fight about {name}",
    "honestly I don't follow {name} closely enough to have an opinion",
    "my friend met {name} at an airport once, apparently very polite",
    "there's a long interview with {name} out today if anyone wants to listen",
    "the comments under every {name} post are a disaster",
    "not saying anything about {name}, just here for the memes",
    "is {name} speaking at the event this weekend or was that cancelled?",
]


def off_topic_messages() -> list[str]:
    named = [template.format(name=name) for name in PEOPLE for template in NAMING[:]]
    messages = BANTER + QUESTIONS + NEWS + named
    return [m.strip() for m in messages if m.strip()]


# ------------------------------------------------------------------ data


def read_tsv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle, delimiter="\t"))[1:]


def canonical_ids(data: Path) -> dict[str, str]:
    """Every verified claim id → the id kept when twins differing only in quote characters are collapsed."""
    first: dict[str, str] = {}
    out: dict[str, str] = {}
    for vclaim_id, vclaim, _title in sorted(read_tsv(data / "verified_claims.docs.tsv"), key=lambda r: int(r[0])):
        key = vclaim.translate(QUOTES).strip()
        out[vclaim_id] = first.setdefault(key, vclaim_id)
    return out


def gold(data: Path, split: str, canonical: dict[str, str]) -> dict[str, set[str]]:
    pairs: dict[str, set[str]] = defaultdict(set)
    for line in (data / split / "tweet-vclaim-pairs.qrels").read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[3] != "0":
            pairs[parts[0]].add(canonical.get(parts[2], parts[2]))
    return pairs


def open_ledger(db: Path | None, work: Path, data: Path) -> Ledger:
    source = db if db is not None and db.exists() else None
    copy = work / "checkthat.db"
    if source is not None:
        print(f"copying {source} (opened read-only) to a temporary file")
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        dst = sqlite3.connect(copy)
        src.backup(dst)
        src.close()
        dst.close()
    else:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from checkthat import write_claims  # the same import as the CheckThat benchmark

        claims = work / "claims.jsonl"
        write_claims(data, claims, collapse=True)
        subprocess.run([sys.executable, "-m", "bot", "import", str(claims), "--db", str(copy)], cwd=ROOT, check=True)
    return Ledger.open(copy)


# ------------------------------------------------------------------ scoring


def top_matches(matcher: Matcher, scope: str, text: str) -> list:
    """The bot's steps before the threshold: too short → nothing; else the ledger's top 3."""
    if not worth_checking(text):
        return []
    return list(matcher.ask(scope, text[:4000], top=3).matches)


def evaluate(results: list[tuple[list, set[str]]], off: list[list], threshold: float) -> dict[str, float]:
    replies = correct = off_replies = 0
    for matches, wanted in results:
        chosen = pick(matches, threshold=threshold)
        if chosen is not None:
            replies += 1
            correct += chosen.claim.ref in wanted
    for matches in off:
        if pick(matches, threshold=threshold) is not None:
            off_replies += 1
    total = replies + off_replies
    return {
        "threshold": threshold,
        "replies": total,
        "correct": correct,
        "precision": correct / total if total else 1.0,
        "recall": correct / len(results) if results else 0.0,
        "off_topic_replies": off_replies,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--db", type=Path, default=PREBUILT, help="a prebuilt CheckThat ledger (copied, not changed)")
    parser.add_argument("--target", type=float, default=0.95, help="precision to reach on train")
    parser.add_argument("--lexical", action="store_true", help="without the semantic model")
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON line")
    args = parser.parse_args()
    off_topic = off_topic_messages()
    tuning_off, report_off = off_topic[0::2], off_topic[1::2]
    with tempfile.TemporaryDirectory() as tmp:
        ledger = open_ledger(args.db, Path(tmp), args.data)
        scope = ledger.scopes()[0]
        embedder = None if args.lexical else default_embedder(True)
        dense = DenseIndex(embedder) if embedder is not None else None
        if dense is not None:
            started = time.perf_counter()
            embedded = dense.sync_all(ledger)
            print(f"vectors: {embedded} claims embedded now ({time.perf_counter() - started:.1f} s)")
        matcher = Matcher(ledger, threshold=0.0, dense=dense)
        canonical = canonical_ids(args.data)
        runs: dict[str, list[tuple[list, set[str]]]] = {}
        took: list[float] = []
        for split in ("train", "dev"):
            wanted = gold(args.data, split, canonical)
            out = []
            for tweet_id, content in read_tsv(args.data / split / "tweets.queries.tsv"):
                started = time.perf_counter()
                out.append((top_matches(matcher, scope, content), wanted.get(tweet_id, set())))
                took.append((time.perf_counter() - started) * 1000)
            runs[split] = out
        off_tune = [top_matches(matcher, scope, m) for m in tuning_off]
        off_report = [top_matches(matcher, scope, m) for m in report_off]
        ledger.close()

    print(f"{len(off_topic)} off-topic messages ({len(tuning_off)} for tuning, {len(report_off)} for the report);"
          f" matcher: {'lexical' if args.lexical else 'hybrid (semantic)'}; median {sorted(took)[len(took) // 2]:.1f}"
          " ms per message")  # fmt: skip
    print("\nthreshold sweep on train (tuning half of the off-topic messages):")
    print("| threshold | replies | correct | precision | recall | off-topic replies |")
    print("|---|---|---|---|---|---|")
    chosen = None
    for threshold in GRID:
        row = evaluate(runs["train"], off_tune, threshold)
        if threshold in (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.99) or (chosen is None and _ok(row, args)):
            print(_row(row))
        if chosen is None and _ok(row, args):
            chosen = threshold
    if chosen is None:
        print(f"no threshold reaches precision {args.target} on train")
        return 1
    constant = watch_threshold(not args.lexical)
    print(f"\ntuned on train: {chosen} (the constant in bot/watching.py: {constant})")
    print("\n| split | threshold | replies | correct | precision | recall | off-topic replies |")
    print("|---|---|---|---|---|---|---|")
    results = {}
    for split, off in (("train", off_tune), ("dev", off_report)):
        for threshold in dict.fromkeys((chosen, constant)):
            row = evaluate(runs[split], off, threshold)
            results[f"{split}@{threshold}"] = row
            print(f"| {split} " + _row(row))
    all_off = off_tune + off_report
    for threshold in dict.fromkeys((chosen, constant)):
        count = sum(pick(m, threshold=threshold) is not None for m in all_off)
        print(f"replies to all {len(all_off)} off-topic messages at {threshold}: {count}")
    if args.json:
        print(json.dumps(results))
    return 0


def _ok(row: dict[str, float], args: argparse.Namespace) -> bool:
    return row["precision"] >= args.target and row["off_topic_replies"] == 0 and row["replies"] > 0


def _row(row: dict[str, float]) -> str:
    return (
        f"| {row['threshold']:.2f} | {row['replies']} | {row['correct']} | {row['precision']:.3f} |"
        f" {row['recall']:.3f} | {row['off_topic_replies']} |"
    )


if __name__ == "__main__":
    raise SystemExit(main())
