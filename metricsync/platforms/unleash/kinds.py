"""Unleash's name and kind, apart from the record: the record lists the commands, which read
them."""

from metricsync.platforms.base import Kind
from metricsync.platforms.unleash.checks import check_usage

NAME = "unleash"
USAGE = Kind("unleash/usage", "unleash/usage.schema.json", check_usage)
