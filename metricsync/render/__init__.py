"""Renderers: they only read results and plans, and never change them."""
