"""Stripe-shaped errors: the body and status code decide which exception class the library raises.

The official library maps 400/404 to ``InvalidRequestError`` (``IdempotencyError`` when the type is
``idempotency_error``), 401 to ``AuthenticationError``, 402 to ``CardError``, 403 to
``PermissionError``, 429 to ``RateLimitError`` and anything else to ``APIError``.
"""

from __future__ import annotations

from typing import Any


class StripeError(Exception):
    """An error answered as Stripe answers it.

    ``saved`` says whether an idempotency key keeps this result: Stripe saves the outcome of any
    request whose endpoint began executing (a refused transfer, an over-refund), but not of one
    that failed parameter validation, so the same key may be retried with corrected parameters.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        saved: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.type = type
        self.code = code
        self.param = param
        self.saved = saved

    def body(self, request_id: str | None = None) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "type": self.type}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.param:
            error["param"] = self.param
        if request_id:
            error["request_log_url"] = f"https://dashboard.stripe.com/test/logs/{request_id}"
        return {"error": error}


def missing(param: str) -> StripeError:
    return StripeError(f"Missing required param: {param}.", code="parameter_missing", param=param)


def unknown(param: str) -> StripeError:
    return StripeError(f"Received unknown parameter: {param}", code="parameter_unknown", param=param)


def invalid(param: str, message: str, code: str = "parameter_invalid") -> StripeError:
    return StripeError(message, code=code, param=param)


def no_such(kind: str, object_id: str, param: str = "id") -> StripeError:
    return StripeError(f"No such {kind}: '{object_id}'", status=404, code="resource_missing", param=param)
