"""Storefront pages, composed from the services."""
