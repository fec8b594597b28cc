"""Register, sign in, sign out (I1-I3). Forms carry the session's CSRF token; sign-in and
registration are rate-limited per username and per address with a clear message."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from gateway.accounts import service
from gateway.pages import render
from gateway.sessions import Ctx
from homecraft_shared.dependencies import resource
from homecraft_shared.ratelimit import RateLimited, RateLimiter
from homecraft_shared.runtime import ServiceRuntime

router = APIRouter(tags=["accounts"])


class AccountLimits:
    """The accounts' rate limits, one set per process (a runtime resource, so each app has its own)."""

    def __init__(self) -> None:
        self.sign_in = RateLimiter("5/minute;30/hour", what="sign-in attempts")
        self.sign_in_address = RateLimiter("30/minute", what="sign-in attempts from this address")
        self.register = RateLimiter("5/hour", what="registrations from this address")


async def open_limits(runtime: ServiceRuntime) -> None:
    runtime.resources.add(AccountLimits())


Limits = Annotated[AccountLimits, Depends(resource(AccountLimits))]


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _safe_next(target: str | None) -> str:
    """Only a local path (never //host or a scheme): no open redirect."""
    if target and len(target) <= 2000 and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@router.get("/account/signin", summary="The sign-in form")
async def signin_form(ctx: Ctx, next: str = "/") -> Response:
    return await render(ctx, "signin.html", form={"username": ""}, next=_safe_next(next), error=None)


@router.post("/account/signin", summary="Sign in (rotates the session)")
async def signin(ctx: Ctx, request: Request, limits: Limits) -> Response:
    form = await request.form()
    ctx.check_csrf(form.get("csrf_token"))
    username, password = str(form.get("username", "")).strip(), str(form.get("password", ""))
    target = _safe_next(str(form.get("next", "/")))
    try:
        await limits.sign_in_address.hit("signin-address", _address(request))
        await limits.sign_in.hit("signin", username.lower())
    except RateLimited as exc:
        return await render(ctx, "signin.html", status=429, form={"username": username}, next=target,
                            error=f"{exc.detail} For your account's safety, sign-in is paused.")
    user = await service.authenticate(ctx.db, username, password)
    if user is None:
        return await render(ctx, "signin.html", status=400, form={"username": username}, next=target,
                            error="That username and password do not match an account.")
    await ctx.sign_in(user)
    ctx.flash(f"Welcome back, {user.username}.")
    return await ctx.redirect(target)


@router.post("/account/signout", summary="Sign out (the session is deleted server-side)")
async def signout(ctx: Ctx, request: Request) -> Response:
    form = await request.form()
    ctx.check_csrf(form.get("csrf_token"))
    await ctx.sign_out()
    ctx.flash("You are signed out.")
    return await ctx.redirect("/")


@router.get("/account/register", summary="The registration form")
async def register_form(ctx: Ctx) -> Response:
    return await render(ctx, "register.html", form={}, errors={})


@router.post("/account/register", summary="Register a buyer, or a seller (opt-in)")
async def register(ctx: Ctx, request: Request, limits: Limits) -> Response:
    form = await request.form()
    ctx.check_csrf(form.get("csrf_token"))
    values = {name: str(form.get(name, "")) for name in ("username", "email", "shop_name")}
    values = {k: v.strip() for k, v in values.items()}
    password, confirm = str(form.get("password", "")), str(form.get("confirm", ""))
    seller = form.get("seller") == "on"
    errors = service.validate_registration(values["username"], values["email"], password, confirm, seller,
                                           values["shop_name"])
    if not errors:
        try:
            await limits.register.hit("register", _address(request))
        except RateLimited as exc:
            return await render(ctx, "register.html", status=429, form={**values, "seller": seller},
                                errors={"form": str(exc.detail)})
        try:
            user = await service.create_user(ctx.db, username=values["username"], email=values["email"],
                                             password=password, seller=seller, shop_name=values["shop_name"])
        except service.UsernameTaken:
            errors["username"] = "That username is taken (usernames ignore upper and lower case)."
        else:
            await ctx.sign_in(user)
            ctx.flash(f"Welcome to Home Craft 3D, {user.username}.")
            return await ctx.redirect("/")
    return await render(ctx, "register.html", status=400, form={**values, "seller": seller}, errors=errors)
