"""Telecenter: fastagi."""
