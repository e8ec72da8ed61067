"""Flows: automations whose segment splits are decided live by arq workers."""
