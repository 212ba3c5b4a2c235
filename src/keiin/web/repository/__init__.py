"""Public repository pages: CA certificates, CRLs, OCSP, policies, notices (ja/en)."""
