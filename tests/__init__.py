"""Test suite (runs against a real PostGIS)."""
