"""The sandbox: serves every platform's emulator (platforms/<platform>/sandbox/) as docs/sandbox/
describes, with faults, seeds and admin endpoints, for tests and newcomers."""
