"""The composition root: the `clearline` command line, which wires every package together."""
