"""Broadcasts: a one-off email to the live audience of some segments, sent by arq workers."""
