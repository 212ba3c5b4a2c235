"""Signatory certificates whose keys only the signatory can use (issue 4; keiin.custody)."""
