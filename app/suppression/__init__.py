"""The suppression list: who must never be mailed again, surviving deletion (docs/suppression.md)."""
