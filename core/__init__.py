"""Gloo bots: the core conversation service (no platform code lives here)."""
