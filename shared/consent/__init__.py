"""Consent is the gate: the only way anything about a student leaves the service, and the breach procedure."""
