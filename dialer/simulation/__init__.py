"""Discrete-event simulation of a call-center shift, for pacing policies."""
