"""Simulated SIP peers on loopback for the demo, tests and benchmarks: a carrier and agent phones.

Both are real SIP over UDP in their own processes (`python -m dialer.simulators.carrier`,
`python -m dialer.simulators.agent_phones`) and report through a JSON statistics file.
"""
