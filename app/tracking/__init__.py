"""Opens and clicks of Sieve's own emails: signed tokens, instrumented html, the events
they record (docs/broadcasts.md, "Opens and clicks")."""
