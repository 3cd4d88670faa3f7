from metricsync.cli import main

main()
