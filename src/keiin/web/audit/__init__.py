"""Persistence of the hash-chained audit log (the chain itself is :mod:`keiin.audit`)."""
