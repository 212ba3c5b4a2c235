"""Keiin's certificate authority: pure domain code, no Django.

Layers, bottom up:

* :mod:`keiin.pki.keys` — key generation and signature algorithm choice.
* :mod:`keiin.pki.keystore` — private keys at rest, encrypted under a master key.
* :mod:`keiin.pki.serials` — random certificate serial numbers.
* :mod:`keiin.pki.profiles` — RFC 5280 certificate profiles (root, issuing CA, TSA,
  OCSP responder, signer).
* :mod:`keiin.pki.revocation` — revocation reasons and CRL issuance.
* :mod:`keiin.pki.ocsp` — RFC 6960 / RFC 5019 request parsing and response signing.

Everything takes plain data in and returns plain data; persistence lives in the Django apps.
"""
