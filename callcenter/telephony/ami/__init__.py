"""Asterisk Manager Interface (AMI) event source: framing, translation, the client."""
