"""Routes of the handling flow."""
