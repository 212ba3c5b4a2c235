"""Keiin's Django project: settings, URL routing, the ASGI router and thin apps."""
