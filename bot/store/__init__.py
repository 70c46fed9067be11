"""The ledger store: the one public module through which the rest of the project reads and writes claims.

``Ledger`` is the SQLite implementation (the embedded default). Records (``incident_record`` …) are the plain
dicts the formats read and write.
"""

from bot.store.backups import BackupInfo, backup, restore
from bot.store.sqlite import DEFAULT_SCOPE, Ledger, claim_record, incident_record, speaker_record

__all__ = [
    "DEFAULT_SCOPE",
    "BackupInfo",
    "Ledger",
    "backup",
    "claim_record",
    "incident_record",
    "restore",
    "speaker_record",
]
