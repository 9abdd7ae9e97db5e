"""Routes of the joint-conference minutes part."""
