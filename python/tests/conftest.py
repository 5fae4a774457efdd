"""pytest set-up: the built plexus_torch must be importable (PYTHONPATH, see python/ci.sh)."""

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

WORLD_SIZES = [int(x) for x in os.environ.get("PLEXUS_TORCH_TEST_SIZES", "2,3,4").split(",")]
