"""Routes of the intake flow."""
