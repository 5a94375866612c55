"""Join the job that the environment names, and say so (the tests of job identity expect it
to fail)."""
import spmd

spmd.distributed.initialize(initialization_timeout=30)
print("joined", flush=True)
