"""Wrong ReLU whose forward writes a 1 GB file into its working folder in 1 MB chunks (the file-size limit stops
it: the write raises OSError, which forward does not catch)."""
from _layers import Linear  # noqa: F401
from _layers import ReLU as _ReLU

CHUNK = b"\0" * (1 << 20)


class ReLU(_ReLU):
    def forward(self, input):
        with open("filler.bin", "wb") as f:
            for _ in range(1024):
                f.write(CHUNK)
        return input
