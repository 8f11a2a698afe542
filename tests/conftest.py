"""Shared pytest configuration."""


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long-running reliability tests (multi-process, kill -9)")
