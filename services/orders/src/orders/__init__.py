"""Home Craft 3D orders service: Orders, lines and money snapshots, timeline, guest tokens, download entitlements, site configuration."""
