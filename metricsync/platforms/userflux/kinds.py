"""UserFlux's name and kind, apart from the record: the record lists the commands, which read
them."""

from metricsync.platforms.base import Kind
from metricsync.platforms.userflux.checks import check_queries

NAME = "userflux"
QUERY = Kind("userflux/query", "userflux/query.schema.json", check_queries)
