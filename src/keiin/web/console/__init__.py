"""The operator console: staff login and the management of TSA customer accounts."""
