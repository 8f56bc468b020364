import time
from typing import Any

def test_rows(sandbox: Any, run_gate_inprocess: Any) -> None:
    sandbox.set_faults([])
    for i in range(4):
        t = time.monotonic()
        run = run_gate_inprocess(())
        print(f"\nRUN {i} {time.monotonic()-t:.2f}s rc={run.returncode}")
