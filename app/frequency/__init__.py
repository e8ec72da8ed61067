"""Frequency cap: at most N broadcast emails per person per rolling window (docs/frequency-cap.md)."""
