"""Home Craft 3D gateway service: The storefront: pages, sessions, sign-in, accounts, the cart; composes pages from the services."""
