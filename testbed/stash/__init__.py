"""Stash emulator: GraphQL over HTTP on loopback, for tests, benchmarks and the demo."""
from testbed.stash.emulator import StashEmulator

__all__ = ["StashEmulator"]
