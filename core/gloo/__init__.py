"""Gloo AI client: auth, the Message API backend, streaming, retries and the error tree."""
