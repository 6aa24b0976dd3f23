"""Setting up: preferences, model weights, about, and the desktop-ish setup actions."""
