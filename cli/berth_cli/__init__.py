"""Berth's command-line client of the REST API (v1)."""

__version__ = "0.1.0"
