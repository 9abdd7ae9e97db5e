"""Routes of the joint-conference meetings part."""
