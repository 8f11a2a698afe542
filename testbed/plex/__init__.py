"""A Plex Media Server emulator that the real python-plexapi talks to over HTTP."""
from testbed.plex.emulator import PlexEmulator

__all__ = ["PlexEmulator"]
