"""Console pages, one module per area; each is a thin caller of the domain service functions."""
