from metricsync.cli.main import main

main()
