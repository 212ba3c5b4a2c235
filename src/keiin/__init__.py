"""Keiin (契印): a self-hosted electronic-contract service with its own CA and TSA."""

__version__ = "0.1.0"
