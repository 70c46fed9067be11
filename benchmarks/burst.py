"""Burst: many /ask interactions from many members within seconds, while moderators write, through the
Discord emulator on loopback with the real discord.py client and a real SQLite file. Prints a table.

    python benchmarks/burst.py [--members 50] [--asks 500] [--writes 50] [--spread 3]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pytest  # noqa: E402

from tests.emulator import DiscordEmulator  # noqa: E402
from tests.harness import running_bot  # noqa: E402
from tests.loadgen import burst  # noqa: E402


async def main(args: argparse.Namespace) -> int:
    patch = pytest.MonkeyPatch()
    try:
        async with DiscordEmulator() as emu:
            emu.patch(patch)
            guild = emu.add_guild("Breaking news")
            with tempfile.TemporaryDirectory() as tmp:
                async with running_bot(emu, Path(tmp) / "burst.db", guilds=[guild], semantic=not args.lexical) as run:
                    await run.service.embed_pending()  # the server's claims have their vectors, as in production
                    result = await burst(
                        emu, guild, run, members=args.members, asks=args.asks, writes=args.writes, spread=args.spread
                    )
                    landed = await run.service.read(
                        lambda ledger: sum(
                            1
                            for r in ledger.recent_revisions(guild.id, limit=10_000)
                            if r.actor.startswith("burst-mod")
                        )
                    )
        print(f"matching: {'lexical only' if args.lexical else 'hybrid (semantic on)'}")
        print(result.table())
        for error in result.errors[:3]:
            print("error:", str(error)[:300])
        print(f"moderator writes sent {args.writes}, landed {landed}")
    finally:
        patch.undo()
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=50)
    parser.add_argument("--asks", type=int, default=500)
    parser.add_argument("--writes", type=int, default=50)
    parser.add_argument("--spread", type=float, default=3.0, help="seconds over which the burst arrives")
    parser.add_argument("--lexical", action="store_true", help="semantic matching off")
    raise SystemExit(asyncio.run(main(parser.parse_args())))
