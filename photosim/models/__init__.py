"""The embedding models: a torch-free registry of names and keys, and the torchvision networks."""
