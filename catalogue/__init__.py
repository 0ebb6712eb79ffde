"""Data only: the disease catalogue, concepts and value sets (YAML), shipped as package data."""
