"""Render: suggestions -> CDS Hooks cards, FHIR resources, HTML, JSON and text. Renderers decide nothing."""
