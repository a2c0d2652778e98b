"""Tables of the campaigns package."""
