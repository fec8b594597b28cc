"""Who may execute a refund (R3, R4; decision 0201 and 0305).

- The refunds service acting as itself (a service token signed with its own key, verified with the
  key this service trusts for "refunds"): it has already decided the request (R4: the line's seller,
  an owner, or the operator's bulk refund and escalation, with no user behind the call).
- A user: an owner or staff member (I1), or the seller of every line refunded.
Any other service, and a user token that merely carries the role "service", is refused: only a
trusted key can make a caller the refunds service.
"""

from __future__ import annotations

from collections.abc import Iterable

from homecraft_shared.errors import Forbidden
from homecraft_shared.identity import Identity

REFUNDS_SERVICE = "refunds"


def is_refunds_service(identity: Identity) -> bool:
    return identity.service == REFUNDS_SERVICE


def ensure_may_refund(identity: Identity, line_sellers: Iterable[str]) -> None:
    if identity.service is not None:
        if identity.service != REFUNDS_SERVICE:
            raise Forbidden(f"The {identity.service} service may not execute refunds; only the refunds service may.")
        return
    if not identity.is_owner and any(seller != identity.user_id for seller in line_sellers):
        raise Forbidden("Only the line's seller, an owner or staff may refund it (R4).")
