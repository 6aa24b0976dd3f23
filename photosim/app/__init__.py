"""The PySide6 app: placeholder until the GUI lands."""
