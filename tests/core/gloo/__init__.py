"""Tests for the Gloo client package (auth, retries, streaming, the Message backend)."""
