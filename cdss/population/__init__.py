"""Population: many patients at once. Group a FHIR Bulk Data export (or bundles) per patient in bounded
memory, evaluate each patient with the packs, and compute the public-health indicators.

Modules: `sources` (inputs -> keyed resources), `job` (one patient -> one record; the worker state),
`local` and `spark` (the two engines), `indicators` (definitions as data -> counts), `outputs` (the files
of the output folder), `report` (report.html).
"""
