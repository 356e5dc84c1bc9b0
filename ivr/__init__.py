"""Telecenter: ivr."""
