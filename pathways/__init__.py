"""Data only: versioned clinical rule packs (YAML), one folder per pack, shipped as package data."""
