"""Photo files: the format table, decoding, metadata, thumbnails and pixel fingerprints."""
