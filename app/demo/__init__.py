"""`sieve demo`: the README's sample workspace, exactly, and a bigger generated one."""

from app.demo.bulk import demo_events, demo_people, load_demo

__all__ = ["demo_events", "demo_people", "load_demo"]
