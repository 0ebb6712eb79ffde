"""Packs: YAML -> validated, versioned packs (concepts, catalogue, rule packs) and their registry."""
