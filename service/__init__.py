"""Service: the FastAPI app (CDS Hooks, the FHIR operation, packs, audit). Thin: parse -> cdss -> render.

Start it with ``cdss serve``; build it in code with ``service.app.create_app(settings)``.
"""
