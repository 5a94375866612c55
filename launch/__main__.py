"""`python -m launch ...` is `spmd-run ...`."""
import sys

from spmd.launch.main import main

sys.exit(main())
