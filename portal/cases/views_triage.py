"""Routes of the triage flow."""
