"""The Statsig emulator of the sandbox (docs/sandbox/statsig.md)."""
