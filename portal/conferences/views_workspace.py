"""Routes of the joint-conference workspace part."""
