"""Make ``todo_api`` importable when pytest runs from the repository root.

The container runs ``python -m todo_api`` from a WORKDIR that contains ``todo_api/``; this file
gives the tests the same view without installing the package.
"""

import sys
from pathlib import Path

BACKEND_DIR = Path(__file__).resolve().parent
if str(BACKEND_DIR) not in sys.path:
    sys.path.insert(0, str(BACKEND_DIR))
