"""RFC 3161 time-stamping, pure domain code (no Django).

- :mod:`keiin.tsa.request` parses TimeStampReq bodies (:func:`parse_request`).
- :mod:`keiin.tsa.template` issues tokens from a DER template (:class:`TokenFactory`).
- :mod:`keiin.tsa.response` has the failure codes and rejection replies.
- :mod:`keiin.tsa.verify` checks a token the way the terms ask customers to.
"""
