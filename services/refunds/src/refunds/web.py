"""FastAPI dependencies of the refunds service: its settings and per-process resources."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from homecraft_shared.dependencies import resource, settings_of
from refunds.clients import PeerServices
from refunds.ratelimits import RequestRateLimits
from refunds.settings import RefundsSettings

Settings = Annotated[RefundsSettings, Depends(settings_of(RefundsSettings))]
Peers = Annotated[PeerServices, Depends(resource(PeerServices))]
Limits = Annotated[RequestRateLimits, Depends(resource(RequestRateLimits))]
