"""Running the service in production: logs, backup and restore."""
