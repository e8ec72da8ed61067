"""Bounces: what an SMTP server's answer means for a recipient, retries, and what a bounce
does to the person, the suppression list and the delivery (docs/bounces.md)."""
