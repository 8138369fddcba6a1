"""Admin of the logs half."""
