"""Segment entry and exit: marks, detection, the change log, the time sweep and webhooks.

Membership stays live (app/segments): the tables here record what the detector
observed and when, never an answer to count, members or contains. docs/changes.md.
"""
