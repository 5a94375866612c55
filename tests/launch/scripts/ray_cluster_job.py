"""In a private network namespace: start a Ray head (`ray start --head --block`, our own
process, stopped by pid), run `spmd-run --ray 127.0.0.1:PORT <argv>` against it, stop the
head, and exit with spmd-run's status."""
import os
import subprocess
import sys
import tempfile

from spmd.cluster.addresses import free_port, wait_until_listening

# Ray's command under this very interpreter (the `ray` script's shebang may name another venv,
# whose spmd the head's workers would then import)
ray_command = [sys.executable, "-c", "import sys; from ray.scripts.scripts import main; "
               "sys.exit(main())"]
port = free_port()
with tempfile.TemporaryDirectory(prefix="spmd-rayhead-") as temp:
    head = subprocess.Popen([*ray_command, "start", "--head", "--block", "--port", str(port),
                             "--num-cpus", "2", "--include-dashboard", "false",
                             "--disable-usage-stats", "--temp-dir", temp],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_listening(f"127.0.0.1:{port}", 60)
        code = subprocess.call([sys.executable, "-m", "spmd.launch", "-n", "2", "--ray",
                                f"127.0.0.1:{port}", *sys.argv[1:]],
                               env={**os.environ, "RAY_AUTH_MODE": "token"})
    finally:
        head.terminate()
        head.wait(timeout=60)
sys.exit(code)
