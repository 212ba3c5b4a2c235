"""Evidence records (RFC 4998): one archive timestamp for many documents.

Pure domain code (no Django), in layers: :mod:`~keiin.evidence.tree` (hash trees and reduced
hash trees), :mod:`~keiin.evidence.record` (the ASN.1 and its DER), :mod:`~keiin.evidence.archive`
(sealing and renewing), :mod:`~keiin.evidence.verify` (checking a record for a document).
"""
