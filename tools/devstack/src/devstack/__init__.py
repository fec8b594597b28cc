"""Local tooling: run the whole marketplace, run every test suite."""
