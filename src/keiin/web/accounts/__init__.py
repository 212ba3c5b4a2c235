"""People and organisations: operator staff now; partners and their users come later."""
