"""File validation: an ordered pipeline of checks, each recording whether it
passed and why, run by `files.validation.runner` after an upload completes.

Every check streams from disk and keeps memory bounded, whatever the size.
"""
