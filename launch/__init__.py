"""spmd-run: start the processes of an SPMD job locally, through mpiexec or on Ray, and
supervise them (rank-prefixed output; when one dies, the others are stopped)."""
