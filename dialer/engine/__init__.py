"""The dialer engine: agent state, the supervisor of line workers, and the per-campaign dial loop."""
