"""Service: one router per concern (cds_hooks, fhir, packs, health; panel is added by its own module)."""
