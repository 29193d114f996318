"""Data functions used by the routers: take a session, raise domain errors."""
