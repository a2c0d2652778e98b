"""Tables of the dnc package."""
