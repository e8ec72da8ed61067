"""Sieve: live customer segmentation for email marketing."""
