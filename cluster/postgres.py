"""Where the database is: a URL from the settings, or an embedded Postgres in the data dir."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tocsin.actors.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Database:
    url: str
    embedded: Any = None  # the pgserver handle when we started Postgres ourselves
    pgdata: Path | None = None  # its data directory

    def stop(self) -> None:
        if self.embedded is not None:
            self.embedded.cleanup()
            self.embedded = None


def open_database(settings: Settings) -> Database:
    if settings.database_url:
        return Database(settings.database_url)
    import pgserver  # imported late: only the embedded default needs it

    pgdata = settings.data_dir / "pgdata"
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(pgdata, cleanup_mode="stop")  # type: ignore[attr-defined]
    log.info("embedded Postgres running in %s", pgdata)
    return Database(server.get_uri(), server, pgdata)
