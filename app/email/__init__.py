"""Email shared by broadcasts and flows: templates, MIME messages, transports, unsubscribe tokens."""
