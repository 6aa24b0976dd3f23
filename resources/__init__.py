"""Non-code files the app ships (icons); installed as the ``photosim.resources`` package."""
