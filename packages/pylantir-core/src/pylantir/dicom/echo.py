"""The Verification (C-ECHO) handler: modalities and site staff use it as a health check."""

from __future__ import annotations

from pynetdicom.events import Event

SUCCESS = 0x0000


def handle_echo(event: Event) -> int:
    """Answer a C-ECHO with Success."""
    return SUCCESS
