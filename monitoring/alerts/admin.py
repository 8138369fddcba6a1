"""Admin of the alerts half."""
