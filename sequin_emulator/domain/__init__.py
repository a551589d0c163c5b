"""The emulator's domain: plain Python state and rules, with no HTTP in it.

Everything here runs on an injected clock and a seeded id factory, so the same seed and the same calls give
the same results.
"""
