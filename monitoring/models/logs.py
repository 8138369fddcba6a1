"""logs models."""
