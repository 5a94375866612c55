"""`python -m launch ...` is `spmd-run ...`."""
import sys

from launch.main import main

sys.exit(main())
