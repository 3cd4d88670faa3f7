"""An emulator of the four platform APIs, faithful to shared/api/*.md, for tests and newcomers."""
