"""Wrong Linear whose forward kills its parent (the grader) with SIGKILL, then sends SIGTERM to every process it
can see. The sandbox runs as a uid of its own, so it can signal none of them."""
import os
import signal

from _layers import Linear as _Linear
from _layers import ReLU  # noqa: F401


def _kill_everything():
    try:
        os.kill(os.getppid(), signal.SIGKILL)
    except OSError:
        pass
    me = os.getpid()
    try:
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        pids = []
    for pid in pids:
        if pid != me:
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass


class Linear(_Linear):
    def forward(self, input):
        _kill_everything()
        return super().forward(input) - 1.0
