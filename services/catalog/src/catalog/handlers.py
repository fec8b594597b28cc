"""Every event the catalog service consumes, registered in one place."""

from __future__ import annotations

from homecraft_shared.messaging.consumer import HandlerRegistry

handlers = HandlerRegistry(consumer_name="catalog")
