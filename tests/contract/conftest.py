"""Collects the notes the consumer checks make (reads of optional fields) and prints them at the end."""

from __future__ import annotations

import pytest

NOTES: list[str] = []


@pytest.fixture
def note() -> object:
    """Call ``note("...")`` to add a line to the end-of-run "contract notes" section."""
    return NOTES.append


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not NOTES:
        return
    terminalreporter.write_sep("-", "contract notes")
    for line in sorted(set(NOTES)):
        terminalreporter.write_line(line)
