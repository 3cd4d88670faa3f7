"""The Unleash emulator of the sandbox (docs/sandbox/unleash.md)."""
