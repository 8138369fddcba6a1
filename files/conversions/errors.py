class ConversionError(Exception):
    """The conversion cannot be done; the message says why, for the client."""
