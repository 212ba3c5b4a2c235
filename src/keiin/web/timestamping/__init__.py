"""The time-stamping service around :mod:`keiin.tsa`: customer accounts, plans, the issuance
log, token revocation, and the raw-ASGI ``POST /tsa`` endpoint."""
