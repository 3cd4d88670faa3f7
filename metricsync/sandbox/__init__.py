"""An emulator of the four platform APIs as docs/platforms/ and docs/sandbox/ describe them, for
tests and newcomers."""
