"""The UserFlux emulator of the sandbox (docs/sandbox/userflux.md)."""
