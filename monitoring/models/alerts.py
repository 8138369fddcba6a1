"""alerts models."""
