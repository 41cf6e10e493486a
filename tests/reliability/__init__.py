"""Reliability and security suite: faults, request counts, leaks and secrets."""
