"""Settings, read from the environment (and a ``.env`` file), all under the ``CLAIMLEDGER_`` prefix
except Discord's own ``DISCORD_TOKEN``."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from bot.errors import InvalidInputError

log = logging.getLogger(__name__)

_FALSE = ("0", "false", "no", "off")


def is_url(location: object) -> bool:
    """Whether a ledger location is a PostgreSQL URL (else it is a SQLite file path)."""
    return isinstance(location, str) and location.startswith(("postgresql://", "postgres://"))


def default_db_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "claim-ledger" / "ledger.db"


def read_dotenv(path: Path) -> dict[str, str]:
    """KEY=VALUE lines; '#' comments and blank lines ignored; surrounding quotes stripped."""
    values: dict[str, str] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return values
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip().removeprefix("export ").strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key] = value
    return values


def parse_shards(
    count: str | None, ids: str | None, *, names: tuple[str, str] = ("CLAIMLEDGER_SHARD_COUNT", "CLAIMLEDGER_SHARD_IDS")
) -> tuple[int | None, tuple[int, ...] | None]:
    """The shard count and this process's shard ids, from text: ``ids`` is a comma-separated list of ids and
    ranges (``0,1`` or ``0-3,8``), each below the count; no ids means every shard. Both empty: not sharded."""
    count_name, ids_name = names
    count, ids = (count or "").strip(), (ids or "").strip()
    if not count:
        if ids:
            raise InvalidInputError(
                f"{ids_name} needs {count_name} too (the number of shards in all, across every process)."
            )
        return None, None
    if not count.isdigit() or int(count) < 1:
        raise InvalidInputError(f"{count_name} must be a whole number of 1 or more; got {count!r}.")
    total = int(count)
    if not ids:
        return total, None
    chosen: list[int] = []
    for part in ids.replace(" ", "").split(","):
        first, dash, last = part.partition("-")
        if not first.isdigit() or (dash and not last.isdigit()):
            raise InvalidInputError(f"{ids_name} must list shard ids such as 0,1 or 0-3; got {ids!r}.")
        span = range(int(first), int(last if dash else first) + 1)
        if not span:
            raise InvalidInputError(f"{ids_name} has the range {part} backwards; write it low-high.")
        chosen.extend(span)
    if bad := sorted({n for n in chosen if n >= total}):
        raise InvalidInputError(
            f"{ids_name} names shard {bad[0]}, but with {count_name}={total} the shards are 0 to {total - 1}."
        )
    if len(set(chosen)) != len(chosen):
        raise InvalidInputError(f"{ids_name} names a shard twice; got {ids!r}.")
    return total, tuple(sorted(chosen))


@dataclass(frozen=True)
class Settings:
    db_path: Path
    db_url: str | None = None  # a postgresql:// URL from CLAIMLEDGER_DB: the ledger lives in PostgreSQL
    token: str | None = None
    dev_guild: int | None = None
    log_level: str = "INFO"
    seed_dir: Path | None = None  # None: the incidents bundled with the package
    match_threshold: float | None = None
    owner_ids: frozenset[int] = field(default_factory=frozenset)
    seed_new_servers: bool = True
    summary_delay: float = 2.0  # seconds to gather a burst of changes into one summary edit
    semantic: bool = True  # semantic (embedding) matching beside the lexical search
    message_content: bool | None = None  # ask for the Message Content intent (watched channels); None: unset
    shard_count: int | None = None  # shards in all (every process): the bot runs as an AutoShardedBot; None: not
    shard_ids: tuple[int, ...] | None = None  # the shards this process runs; None: all of shard_count

    @property
    def sharded(self) -> bool:
        return self.shard_count is not None

    def with_shards(self, count: str | None, ids: str | None) -> Settings:
        """These settings with the shards of the command line (``--shard-count``, ``--shard-ids``)."""
        shard_count, shard_ids = parse_shards(count, ids, names=("--shard-count", "--shard-ids"))
        return replace(self, shard_count=shard_count, shard_ids=shard_ids)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, dotenv: Path | None = Path(".env")) -> Settings:
        """The process environment wins over the ``.env`` file."""
        merged: dict[str, str] = dict(read_dotenv(dotenv)) if dotenv else {}
        merged.update(os.environ if env is None else env)

        def opt_int(key: str) -> int | None:
            raw = merged.get(key, "").strip()
            if not raw:
                return None
            if not raw.isdigit():
                raise InvalidInputError(f"{key} must be a number (a Discord id); got {raw!r}.")
            return int(raw)

        db = merged.get("CLAIMLEDGER_DB", "").strip()
        threshold = merged.get("CLAIMLEDGER_MATCH_THRESHOLD", "").strip()
        try:
            match_threshold = float(threshold) if threshold else None
        except ValueError:
            raise InvalidInputError(f"CLAIMLEDGER_MATCH_THRESHOLD must be a number; got {threshold!r}.") from None
        owners = {int(x) for x in merged.get("CLAIMLEDGER_OWNER_IDS", "").replace(",", " ").split() if x.isdigit()}
        shard_count, shard_ids = parse_shards(
            merged.get("CLAIMLEDGER_SHARD_COUNT"), merged.get("CLAIMLEDGER_SHARD_IDS")
        )
        return cls(
            db_path=default_db_path(merged) if is_url(db) else Path(db or default_db_path(merged)).expanduser(),
            db_url=db if is_url(db) else None,
            token=merged.get("DISCORD_TOKEN", "").strip() or None,
            dev_guild=opt_int("CLAIMLEDGER_DEV_GUILD"),
            log_level=(merged.get("CLAIMLEDGER_LOG_LEVEL") or "INFO").upper(),
            seed_dir=Path(merged["CLAIMLEDGER_SEED_DIR"]) if merged.get("CLAIMLEDGER_SEED_DIR") else None,
            match_threshold=match_threshold,
            owner_ids=frozenset(owners),
            seed_new_servers=merged.get("CLAIMLEDGER_SEED_NEW_SERVERS", "1").strip().lower() not in _FALSE,
            semantic=merged.get("CLAIMLEDGER_SEMANTIC", "1").strip().lower() not in _FALSE,
            message_content=merged.get("CLAIMLEDGER_MESSAGE_CONTENT", "0").strip().lower() not in (*_FALSE, ""),
            shard_count=shard_count,
            shard_ids=shard_ids,
        )
