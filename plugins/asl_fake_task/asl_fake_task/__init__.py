"""Registers the numpy-only ``fake`` task of :mod:`asl_core.testing` as a regular plugin."""
