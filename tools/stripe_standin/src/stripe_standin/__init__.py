"""An offline, stateful stand-in for the parts of Stripe that Home Craft 3D calls."""
