"""Persistence and services around :mod:`keiin.pki`: CAs, issued certificates, CRLs, OCSP."""
