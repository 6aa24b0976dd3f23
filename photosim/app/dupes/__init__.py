"""The Duplicates view: groups of duplicates, their parts, and the side-by-side compare."""
