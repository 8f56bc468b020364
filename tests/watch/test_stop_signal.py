"""A stop signal may land anywhere in the watch's main thread: it never hangs it."""

from __future__ import annotations

import subprocess
import sys
import textwrap

# A process whose watch stop handler gets signal after signal (from a second process, every
# 50 µs) while its main thread waits in short steps, as the watch's loop does between intervals.
# Some signals land inside the wait's own bookkeeping: with a threading.Event set from the
# handler, one landed while the Event's lock was held and the handler waited for it forever.
FLOODED_WAITS = textwrap.dedent(
    """
    import os, signal, subprocess, sys, time
    from promorang_gate.watch.run import _Stop

    stop = _Stop()
    signal.signal(signal.SIGUSR1, stop)
    flood = subprocess.Popen([sys.executable, "-c", (
        "import os, signal, sys, time\\n"
        "while True:\\n"
        "    os.kill(int(sys.argv[1]), signal.SIGUSR1)\\n"
        "    time.sleep(0.00005)\\n"
    ), str(os.getpid())])
    try:
        until, waits = time.monotonic() + 1.5, 0
        while time.monotonic() < until:
            stop.signal = None
            stop.wait(0.0002)
            waits += 1
    finally:
        flood.kill()
        flood.wait()
    print(waits, stop.signal)
    """
)


def test_stop_signals_landing_anywhere_in_a_wait_never_hang_it() -> None:
    done = subprocess.run(
        [sys.executable, "-c", FLOODED_WAITS],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    waits, last = done.stdout.split()
    assert int(waits) > 100
    assert last in {"SIGUSR1", "None"}
