"""Tables of the dialer package."""
