"""The catalog service's tables. The messaging tables (outbox, inbox, dead letters) come from shared."""

from __future__ import annotations

from homecraft_shared.db import Base
from homecraft_shared.messaging import tables as messaging_tables

__all__ = ["Base", "messaging_tables"]
