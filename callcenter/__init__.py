"""callcenter: the repair hotline's integration service."""

__version__ = "0.1.0"
