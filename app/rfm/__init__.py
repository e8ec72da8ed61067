"""RFM: recency, frequency and monetary scores from purchase events (docs/rfm.md)."""
