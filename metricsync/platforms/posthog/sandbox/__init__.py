"""The PostHog emulator of the sandbox (docs/sandbox/posthog.md)."""
