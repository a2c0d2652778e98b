"""Shared plumbing: settings, embedded services, database, broker, auth primitives.

Nothing in here imports a domain package (dnc, attestation, campaigns, dialer, api).
"""
