"""Start the real app with the trained test network injected (for the e2e test's screenshot).

    python tests/effnet_app.py FOLDER

The ResNet ImageNet weights cannot be downloaded on the build machines; the
ImageNet-trained EfficientNet-Lite0 of the tests gives the scores a user of the
real weights would recognise (copies near 100%, unrelated photos far lower).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from effnet import load_effnet_backbone

from photosim.app import run

if __name__ == "__main__":
    sys.exit(run(root=sys.argv[1], backbone=load_effnet_backbone()))
