"""Tests run with 8 XLA CPU devices, set before the backend starts."""
import os

os.environ.setdefault("SPMD_CPU_DEVICES", "8")
