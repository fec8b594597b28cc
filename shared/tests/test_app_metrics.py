"""The operator metrics every service serves: outbox backlog and dead letters."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

from homecraft_shared.app import create_service_app
from homecraft_shared.db import utcnow
from homecraft_shared.messaging.tables import DeadLetter, OutboxEvent
from homecraft_shared.runtime import ServiceRuntime
from homecraft_shared.settings import ServiceSettings
from homecraft_shared.testing import serve_app

# Any service's migrations create the messaging tables; the orders skeleton is the smallest.
MIGRATIONS = Path(__file__).resolve().parents[2] / "services/orders/src/orders/migrations"


async def test_metrics_report_unpublished_outbox_and_dead_letters(database_url: str, nats_url: str) -> None:
    runtime = ServiceRuntime(
        ServiceSettings(service_name="metricsdemo", database_url=database_url, nats_url=nats_url),
        migrations=MIGRATIONS,
    )
    app = create_service_app(runtime, title="metrics demo", description="")
    async with serve_app(app) as client:
        async with runtime.sessionmaker() as session:
            session.add(OutboxEvent(event_id=uuid.uuid4(), subject="x.v1", payload="{}", attempts=0,
                                    created_at=utcnow() - dt.timedelta(seconds=90)))
            session.add(OutboxEvent(event_id=uuid.uuid4(), subject="x.v1", payload="{}", attempts=3,
                                    created_at=utcnow(), last_error="NoRespondersError()"))
            session.add(DeadLetter(consumer="metricsdemo", event_id=uuid.uuid4(), subject="x.v1", payload="{}",
                                   error="boom", attempts=5, failed_at=utcnow()))
            await session.commit()
        text = (await client.get("/metrics")).text
    assert 'homecraft_outbox_unpublished{service="metricsdemo"} 2' in text
    assert 'homecraft_outbox_failing{service="metricsdemo"} 1' in text
    assert 'homecraft_dead_letters{service="metricsdemo"} 1' in text
    age = float(text.split('homecraft_outbox_oldest_unpublished_seconds{service="metricsdemo"} ')[1].split()[0])
    assert 89 < age < 300
