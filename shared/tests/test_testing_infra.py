"""The throwaway servers tests and benchmarks start (``homecraft_shared.testing.infra``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from homecraft_shared.db import create_engine
from homecraft_shared.testing.infra import PostgresCluster


@pytest.mark.skipif(not PostgresCluster.available(), reason="PostgreSQL 15's initdb, pg_ctl and postgres are not on PATH")
async def test_a_postgres_cluster_runs_with_the_settings_it_was_given(tmp_path: Path) -> None:
    # The payments bench reads commit times, which PostgreSQL keeps only with this setting (decision 0320).
    # A value with a shell's special characters reaches PostgreSQL as it was written.
    cluster = PostgresCluster(tmp_path / "pg", settings={"track_commit_timestamp": "on", "log_line_prefix": "%p| "})
    cluster.start()
    try:
        engine = create_engine(cluster.admin_url())
        async with engine.connect() as connection:
            setting = (await connection.execute(sa.text("SHOW track_commit_timestamp"))).scalar_one()
            fsync = (await connection.execute(sa.text("SHOW fsync"))).scalar_one()
            prefix = (await connection.execute(sa.text("SHOW log_line_prefix"))).scalar_one()
        await engine.dispose()
    finally:
        cluster.stop()
    assert (setting, fsync, prefix) == ("on", "off", "%p| ")
