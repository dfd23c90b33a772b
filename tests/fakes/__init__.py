"""Fake servers that speak real wire protocols, for tests that need a peer on a socket."""
