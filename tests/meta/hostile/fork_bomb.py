"""Wrong Linear whose forward forks in a loop, and every child forks too: unlimited, 1 + 12 + 144 + 1,728 = 1,885
processes, each sleeping for a minute before it exits. The sandbox's process limit stops it early, and the grader
kills what is left when it stops the sandbox."""
import os
import time

from _layers import Linear as _Linear
from _layers import ReLU  # noqa: F401

WIDTH, DEPTH = 12, 3
LINGER = 60  # seconds each child sleeps before it exits


def _bomb():
    depth, made = 0, 0
    while made < WIDTH and depth < DEPTH:
        try:
            pid = os.fork()
        except OSError:  # the process limit
            break
        if pid == 0:  # a child: forks its own
            depth, made = depth + 1, 0
            continue
        made += 1
    if depth > 0:
        time.sleep(LINGER)
        os._exit(0)


class Linear(_Linear):
    def forward(self, input):
        _bomb()
        return super().forward(input) + 2.0
