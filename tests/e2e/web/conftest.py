"""Browser journeys: the helpers in browserkit.py sit beside the tests."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
