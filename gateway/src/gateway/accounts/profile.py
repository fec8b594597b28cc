"""The profile (I1, I2): name, email, phones, US address, shop name and the seller opt-in. Owner flags
are never editable here (I3)."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import Response

from gateway.accounts.service import CONTROL_MESSAGE, EMAIL, SHOP_NAME_MAX, unprintable
from gateway.pages import render
from gateway.sessions import Ctx

router = APIRouter(tags=["accounts"])

PHONE = re.compile(r"^[0-9\-\+\(\)]{7,20}$")
ZIP = re.compile(r"^\d{5}(-\d{4})?$")
US_STATES = ("AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS",
             "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY", "NC",
             "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY")
FIELDS = {"first_name": 150, "last_name": 150, "email": 254, "phone": 20, "phone2": 20, "address_line1": 200,
          "address_line2": 200, "city": 100, "state": 2, "zip_code": 10, "shop_name": SHOP_NAME_MAX}


def validate(values: dict[str, str]) -> dict[str, str]:
    errors = {name: f"At most {limit} characters." for name, limit in FIELDS.items() if len(values[name]) > limit}
    if values["email"] and not EMAIL.match(values["email"]):
        errors["email"] = "Enter a valid email address."
    for name in ("phone", "phone2"):
        if values[name] and not PHONE.match(values[name]):
            errors[name] = "7-20 digits and + - ( ) only."
    if values["state"] and values["state"] not in US_STATES:
        errors["state"] = "Choose a US state."
    if values["zip_code"] and not ZIP.match(values["zip_code"]):
        errors["zip_code"] = "A ZIP code: 12345 or 12345-6789."
    for name, value in values.items():
        if name not in errors and unprintable(value):
            errors[name] = CONTROL_MESSAGE
    return errors


@router.get("/account/profile", summary="The profile form")
async def profile_form(ctx: Ctx) -> Response:
    if ctx.user is None:
        return await ctx.redirect("/account/signin?next=/account/profile")
    values = {name: str(getattr(ctx.user, name)) for name in FIELDS}
    return await render(ctx, "profile.html", form=values, seller=ctx.user.is_seller, errors={}, states=US_STATES)


@router.post("/account/profile", summary="Save the profile")
async def save_profile(ctx: Ctx, request: Request) -> Response:
    form = await request.form()
    ctx.check_csrf(form.get("csrf_token"))
    if ctx.user is None:
        return await ctx.redirect("/account/signin?next=/account/profile")
    values = {name: str(form.get(name, "")).strip() for name in FIELDS}
    values["state"] = values["state"].upper()
    seller = form.get("seller") == "on" or ctx.user.is_owner
    errors = validate(values)
    if errors:
        return await render(ctx, "profile.html", status=400, form=values, seller=seller, errors=errors,
                            states=US_STATES)
    for name, value in values.items():
        setattr(ctx.user, name, value.lower() if name == "email" else value)
    ctx.user.is_seller = seller  # the opt-in; is_owner is not a field of this form (I3)
    ctx.flash("Your profile is saved.")
    return await ctx.redirect("/account/profile")
