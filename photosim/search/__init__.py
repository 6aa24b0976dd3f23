"""Nearest-neighbour search over stored vectors."""
