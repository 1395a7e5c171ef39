"""One module per screen, named after what the user calls it."""
