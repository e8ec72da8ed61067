"""Email shared by broadcasts and flows: templates, MIME messages, transports, unsubscribe
tokens, and sending (`compose` a recipient's message, a paced `Mailer`)."""
